"""Reconciliation: a month of one file-fed channel through the real CLI, against a bare floor.

    .venv/bin/python bench/reconcile.py [--dossiers 1000000] [--lines 1000000] [--days 30]
        [--skip-floor]

Goals (docs/performance.md), on SQLite: the whole (every CLI step below) within 60 s and within
3x the floor, and no step above 1 GiB of peak RSS.

`fixtures.ward.bulk.write_month` writes `dossiers.csv` and `statements.csv` of channel `bulk`
(about 2% of the lines planted scenarios that each open one case). Then each step is its own
`recon` process in a fresh SQLite database: `db upgrade`, `dossiers import`, `statements import
--channel bulk`, and `reconcile --date D --channel bulk --no-pull --json` for each day. Every run
must succeed, and the cases opened and lines matched must be what was planted. The floor: bare
`sqlite3` loads both files (csv module, executemany), indexes them, resolves every line by
payment ref or code in one join and writes a result row per line. Also printed: the start-up of
a reconcile process (`python -c "import recon.runs.cli"`), which each of the runs pays.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness as h
from fixtures.ward.bulk import BULK_CHANNEL, write_month

GOAL_WHOLE_S, GOAL_RATIO, GOAL_RSS_MIB = 60.0, 3.0, 1024.0
FIRST_DAY = date(2025, 11, 1)
FLOOR_SCHEMA = """
CREATE TABLE dossiers (id INTEGER PRIMARY KEY, dossier_code TEXT NOT NULL, code_key TEXT NOT NULL,
    procedure_code TEXT, procedure_name TEXT, applicant TEXT, fee_amount INTEGER NOT NULL,
    state TEXT NOT NULL, submitted_at TEXT NOT NULL, claimed_paid_channel TEXT,
    claimed_paid_at TEXT);
CREATE TABLE payment_refs (dossier_id INTEGER NOT NULL, ref TEXT NOT NULL, ref_key TEXT NOT NULL);
CREATE TABLE lines (id INTEGER PRIMARY KEY, channel_txn_id TEXT NOT NULL, order_ref TEXT,
    order_ref_key TEXT, amount INTEGER NOT NULL, fee INTEGER NOT NULL, kind TEXT NOT NULL,
    status TEXT NOT NULL, paid_at TEXT NOT NULL, description TEXT, payer TEXT);
CREATE TABLE results (line_id INTEGER PRIMARY KEY, dossier_id INTEGER, rule TEXT,
    fee_amount INTEGER, amount INTEGER NOT NULL);
"""
FLOOR_INDEXES = """
CREATE UNIQUE INDEX ix_dossiers_code_key ON dossiers (code_key);
CREATE UNIQUE INDEX ix_payment_refs_ref_key ON payment_refs (ref_key);
CREATE INDEX ix_payment_refs_dossier ON payment_refs (dossier_id);
CREATE UNIQUE INDEX ix_lines_txn ON lines (channel_txn_id);
CREATE INDEX ix_lines_order_ref_key ON lines (order_ref_key);
"""
FLOOR_JOIN = """
INSERT INTO results (line_id, dossier_id, rule, fee_amount, amount)
SELECT l.id, COALESCE(r.dossier_id, d.id),
       CASE WHEN r.dossier_id IS NOT NULL THEN 'payment_ref'
            WHEN d.id IS NOT NULL THEN 'dossier_code' END,
       COALESCE(rd.fee_amount, d.fee_amount), l.amount
FROM lines l
LEFT JOIN payment_refs r ON r.ref_key = l.order_ref_key
LEFT JOIN dossiers rd ON rd.id = r.dossier_id
LEFT JOIN dossiers d ON r.dossier_id IS NULL AND d.code_key = l.order_ref_key
"""


def run_cli(work: Path, days: int) -> dict[str, dict[str, Any]]:
    """Every step as its own `recon` process: {step: time, CPU, peak RSS, stdout}."""
    (work / "recon.toml").write_text(
        f'ward_name = "UBND phường Bench"\n[channels.{BULK_CHANNEL}]\nadapter = "file"\n'
    )
    env = {**os.environ, "RECON_CONFIG": str(work / "recon.toml"), "PYTHONDONTWRITEBYTECODE": "1"}
    env["RECON_DATABASE_URL"] = f"sqlite:///{work / 'recon.db'}"
    commands = {
        "upgrade": ["db", "upgrade", "--json"],
        "dossiers": ["dossiers", "import", "dossiers.csv", "--json"],
        "statements": [
            "statements",
            "import",
            "--channel",
            BULK_CHANNEL,
            "statements.csv",
            "--json",
        ],
    }
    for n in range(days):
        day = (FIRST_DAY + timedelta(days=n)).isoformat()
        commands[day] = [
            "reconcile",
            "--date",
            day,
            "--channel",
            BULK_CHANNEL,
            "--no-pull",
            "--json",
        ]
    steps = {}
    for name, args in commands.items():
        steps[name] = h.cli(args, env, work)
        h.log(f"{name}: {steps[name]['seconds']:.2f}s, {steps[name]['maxrss'] / h.MIB:.0f} MiB")
    return steps


def _rows(path: Path) -> Iterator[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        yield from reader


def run_floor(work: Path) -> tuple[float, int]:
    """Bare sqlite3, recon's pragmas, connection close included: (seconds, lines resolved)."""
    path = work / "floor.db"
    h.remove_sqlite(path)
    started = time.perf_counter()
    conn = h.bare(path)
    conn.executescript(FLOOR_SCHEMA)
    refs: list[tuple[int, str, str]] = []

    def dossiers() -> Iterator[tuple[Any, ...]]:
        for n, (code, pcode, pname, who, fee, state, at, cell, channel, claimed) in enumerate(
            _rows(work / "dossiers.csv"), start=1
        ):
            refs.extend((n, ref, ref.strip().upper()) for ref in cell.split("|") if ref)
            fee_amount = int(fee.replace(".", ""))
            yield (
                n,
                code,
                code.strip().upper(),
                pcode,
                pname,
                who,
                fee_amount,
                state,
                at,
                channel or None,
                claimed or None,
            )

    def lines() -> Iterator[tuple[Any, ...]]:
        for n, (txn, ref, amount, fee, kind, status, at, text, payer) in enumerate(
            _rows(work / "statements.csv"), start=1
        ):
            yield (
                n,
                txn,
                ref or None,
                ref.strip().upper() or None,
                int(amount),
                int(fee),
                kind,
                status,
                at,
                text,
                payer,
            )

    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT INTO dossiers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", dossiers())
    conn.executemany("INSERT INTO payment_refs VALUES (?, ?, ?)", refs)
    conn.execute("COMMIT")
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT INTO lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", lines())
    conn.execute("COMMIT")
    conn.executescript(
        f"BEGIN IMMEDIATE; {FLOOR_INDEXES} COMMIT; BEGIN IMMEDIATE; {FLOOR_JOIN}; COMMIT;"
    )
    conn.close()
    seconds = time.perf_counter() - started
    with contextlib.closing(h.bare(path)) as conn:
        resolved = conn.execute("SELECT count(*) FROM results WHERE dossier_id IS NOT NULL")
        return seconds, resolved.fetchone()[0]


def startup(work: Path) -> float:
    """Median wall time of `python -c "import recon.runs.cli"` over 5: what each run pays."""
    times = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([str(h.PYTHON), "-c", "import recon.runs.cli"], cwd=work, check=True)
        times.append(time.perf_counter() - started)
    return h.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--dossiers", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--skip-floor", action="store_true")
    args = parser.parse_args()
    # recon's bytecode compiled once, as an install has it (the children don't write it)
    subprocess.run(
        [str(h.PYTHON), "-m", "compileall", "-q", str(h.ROOT / "recon"), str(h.ROOT / "adapters")],
        check=True,
    )
    with tempfile.TemporaryDirectory(prefix="recon-bench-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        plan = write_month(
            work, dossiers=args.dossiers, lines=args.lines, days=args.days, first_day=FIRST_DAY
        )
        h.log(
            f"generated {plan.dossiers:,} dossiers, {plan.lines:,} lines "
            f"in {time.perf_counter() - started:.0f}s"
        )
        steps = run_cli(work, args.days)
        floor_s, resolved = run_floor(work) if not args.skip_floor else (0.0, 0)
        startup_s = startup(work)

    runs = [json.loads(steps[name]["stdout"]) for name in list(steps)[3:]]
    imported = [json.loads(steps[name]["stdout"]) for name in ("dossiers", "statements")]
    day_s = [steps[name]["seconds"] for name in list(steps)[3:]]
    whole = sum(s["seconds"] for s in steps.values())
    peak = max(s["maxrss"] for s in steps.values()) / h.MIB
    checks = {
        "dossiers imported": (imported[0]["inserted"], plan.dossiers),
        "lines imported": (imported[1]["inserted"], plan.lines),
        "runs succeeded": (sum(r["status"] == "succeeded" for r in runs), args.days),
        "cases opened": (sum(r["cases_opened"] for r in runs), plan.expected_cases),
        "lines matched": (sum(r["matched"] for r in runs), plan.expected_matched),
    }
    rss = {name: steps[name]["maxrss"] / h.MIB for name in ("dossiers", "statements")}
    table = [
        ("step", "seconds", "peak RSS"),
        (
            "recon dossiers import",
            f"{steps['dossiers']['seconds']:.2f}",
            f"{rss['dossiers']:.0f} MiB",
        ),
        (
            "recon statements import",
            f"{steps['statements']['seconds']:.2f}",
            f"{rss['statements']:.0f} MiB",
        ),
        (
            f"{args.days} x recon reconcile",
            f"{sum(day_s):.2f}",
            f"{max(steps[n]['maxrss'] for n in list(steps)[3:]) / h.MIB:.0f} MiB",
        ),
        ("whole (upgrade included)", f"{whole:.2f}", f"{peak:.0f} MiB"),
        ("floor (bare sqlite3)", f"{floor_s:.2f}" if floor_s else "skipped", ""),
    ]
    ratio = whole / floor_s if floor_s else None
    notes = [f"check {name}: {got:,} (expected {want:,})" for name, (got, want) in checks.items()]
    notes += [
        f"per day: median {h.median(day_s):.2f}s, {min(day_s):.2f}-{max(day_s):.2f}s; "
        f"start-up of a run {startup_s:.2f}s",
        f"whole {whole:.1f}s (goal <= {GOAL_WHOLE_S:g}s: {h.verdict(whole <= GOAL_WHOLE_S)}); "
        + (
            f"{ratio:.2f}x the floor (goal <= {GOAL_RATIO:g}x: {h.verdict(ratio <= GOAL_RATIO)}); "
            if ratio
            else ""
        )
        + f"peak RSS {peak:.0f} MiB "
        f"(goal <= {GOAL_RSS_MIB:g} MiB: {h.verdict(peak <= GOAL_RSS_MIB)})",
    ]
    figures = {
        "bench": "reconcile",
        "dossiers": plan.dossiers,
        "lines": plan.lines,
        "days": args.days,
        "dossiers_import_s": round(steps["dossiers"]["seconds"], 2),
        "statements_import_s": round(steps["statements"]["seconds"], 2),
        "reconcile_s": round(sum(day_s), 2),
        "reconcile_day_median_s": round(h.median(day_s), 3),
        "whole_s": round(whole, 2),
        "floor_s": round(floor_s, 2),
        "floor_resolved": resolved,
        "ratio": round(ratio, 2) if ratio else None,
        "peak_rss_mib": round(peak, 1),
        "startup_s": round(startup_s, 3),
        "checks_held": all(got == want for got, want in checks.values()),
    }
    h.report(
        f"Reconciliation, {plan.dossiers:,} dossiers, {plan.lines:,} lines, {args.days} days",
        table,
        notes,
        figures,
    )
    if not figures["checks_held"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
