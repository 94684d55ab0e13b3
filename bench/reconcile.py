"""Reconciliation: a month of one file-fed channel through the real CLI, on SQLite and
PostgreSQL, against bare floors.

    .venv/bin/python bench/reconcile.py [--dossiers 1000000] [--lines 1000000] [--days 30]
        [--database sqlite|postgresql|both] [--postgres-url URL] [--skip-floor]

Goals (docs/performance.md), on SQLite: the whole (every CLI step of the range path below)
within 60 s and within 3x the goal's floor, and no step above 1 GiB of peak RSS.

`fixtures.ward.bulk.write_month` writes `dossiers.csv` and `statements.csv` of channel `bulk`
(about 2% of the lines planted scenarios that each open one case). Then, per database (a fresh
SQLite file; on PostgreSQL a database `recon_bench` made on the server of `--postgres-url`),
each step is its own `recon` process: `db upgrade`, `dossiers import`, `statements import
--channel bulk` (on PostgreSQL an untimed `ANALYZE` follows: the test server's autovacuum is
off). The database is then copied (a file copy; `CREATE DATABASE … TEMPLATE`) and the month is
reconciled twice: in the copy by ONE `reconcile --from D1 --to D30 --channel bulk --no-pull
--json` process (the range path), in the original by one `reconcile --date D …` process a day.
Both must find every run succeeded and the cases and matches that were planted. A run's own
time is read from its `runs` row (`finished_at - started_at`).

The storage floor (`harness.storage_floor`): every row recon stored, read back from its
database off the clock and written into a fresh copy of recon's schema per step, one
transaction each (SQLite: bare sqlite3 with recon's 500-row INSERTs; PostgreSQL: COPY), the
lines stored unmatched and marked by one UPDATE in the runs' step; plus the start-up of each of
the range path's four processes (`python -c "import recon.runs.cli"`, median of 5). The goal's
floor (SQLite only): bare `sqlite3` loads both files (csv module, executemany), indexes them,
resolves every line by payment ref or code in one join and writes a result row per line.
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
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

# the repo first instead of bench/, whose queue.py would shadow the standard library's queue
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import harness as h
from fixtures.ward.bulk import BULK_CHANNEL, MonthPlan, write_month

GOAL_WHOLE_S, GOAL_RATIO, GOAL_RSS_MIB = 60.0, 3.0, 1024.0
FIRST_DAY = date(2025, 11, 1)
POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"  # bench databases made here
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


SETUP = {
    "upgrade": ["db", "upgrade", "--json"],
    "dossiers": ["dossiers", "import", "dossiers.csv", "--json"],
    "statements": ["statements", "import", "--channel", BULK_CHANNEL, "statements.csv", "--json"],
}
# what recon stores in each step, tables in foreign-key order (the runs' step also writes
# channel_days and marks the lines matched); "held": the step's tables are loaded with their
# secondary indexes dropped, then rebuilt, as recon's bulk loads do (recon.db.bulk, SQLite only)
STORAGE = (
    h.Phase("dossiers", ("dossiers", "dossier_payment_refs", "dossier_history"), held=True),
    h.Phase("statements", ("channel_fetches", "statement_lines"), held=True),
    h.Phase(
        "runs",
        ("runs", "run_leases", "channel_days", "matches", "cases", "case_lines", "case_events"),
        then="UPDATE statement_lines SET matched = true WHERE id IN (SELECT line_id FROM matches)",
    ),
)
UNMATCHED = {"statement_lines.matched": "false"}  # as the import stores them
RECONCILE = ["--channel", BULK_CHANNEL, "--no-pull", "--json"]


def run_database(
    kind: str, work: Path, days: list[str], server: str, *, floor: bool
) -> dict[str, Any]:
    """The imports, then the month in one range process in a copy of the database and in a
    process a day in the original: {"steps": {step: its figures}, "run_s": {"range"|"days":
    each run's seconds}, "floor": {phase: seconds}}."""
    if kind == "sqlite":
        h.remove_sqlite(work / "recon.db")
        url = f"sqlite:///{work / 'recon.db'}"
    else:
        url = h.fresh_postgres(server, "recon_bench")
    steps = {name: _cli(kind, name, args, url, work) for name, args in SETUP.items()}
    if kind == "postgresql":
        h.rows_of(url, "ANALYZE")  # what autovacuum would do after a bulk load, untimed
    range_url = h.copy_database(url, "recon_bench_range", server)
    span = ["--from", days[0], "--to", days[-1]]
    steps["range"] = _cli(kind, "range", ["reconcile", *span, *RECONCILE], range_url, work)
    for day in days:
        steps[day] = _cli(kind, day, ["reconcile", "--date", day, *RECONCILE], url, work)
    found: dict[str, Any] = {"steps": steps, "floor": {}}
    found["run_s"] = {"range": _run_seconds(range_url), "days": _run_seconds(url)}
    if floor:
        if kind == "sqlite":
            h.remove_sqlite(work / "storage.db")
            target = f"sqlite:///{work / 'storage.db'}"
        else:
            target = h.fresh_postgres(server, "recon_bench_floor")
        h.migrated(target)
        found["floor"] = h.storage_floor(url, target, STORAGE, UNMATCHED, work)
    if kind == "postgresql":
        h.drop_postgres(server, "recon_bench", "recon_bench_range", "recon_bench_floor")
    return found


def _cli(kind: str, name: str, args: list[str], url: str, work: Path) -> dict[str, Any]:
    env = {**os.environ, "RECON_CONFIG": str(work / "recon.toml"), "RECON_DATABASE_URL": url}
    step = h.cli(args, {**env, "PYTHONDONTWRITEBYTECODE": "1"}, work)
    h.log(f"{kind} {name}: {step['seconds']:.2f}s, {step['maxrss'] / h.MIB:.0f} MiB")
    return step


def _run_seconds(url: str) -> list[float]:
    """Each run's own time, from its row: finished_at - started_at."""

    def at(value: Any) -> datetime:
        return value if isinstance(value, datetime) else datetime.fromisoformat(value)

    rows = h.rows_of(url, "SELECT started_at, finished_at FROM runs ORDER BY id")
    return [(at(finished) - at(started)).total_seconds() for started, finished in rows]


def _rows(path: Path) -> Iterator[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        yield from reader


def join_floor(work: Path) -> tuple[float, int]:
    """The goal's floor: bare sqlite3, recon's pragmas, connection close included: (seconds,
    lines resolved)."""
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
    """Median wall time of `python -c "import recon.runs.cli"` over 5: what a process pays."""
    times = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([str(h.PYTHON), "-c", "import recon.runs.cli"], cwd=work, check=True)
        times.append(time.perf_counter() - started)
    return h.median(times)


def checks_of(
    steps: dict[str, Any], plan: MonthPlan, days: list[str]
) -> dict[str, tuple[int, int]]:
    """{check: (found, expected)} of the imports and of both ways of running the month."""
    dossiers, lines = (json.loads(steps[name]["stdout"]) for name in ("dossiers", "statements"))
    checks = {
        "dossiers imported": (dossiers["inserted"], plan.dossiers),
        "lines imported": (lines["inserted"], plan.lines),
    }
    for way, runs in (
        ("range", json.loads(steps["range"]["stdout"])),
        ("days", [json.loads(steps[day]["stdout"]) for day in days]),
    ):
        succeeded = sum(run["status"] == "succeeded" for run in runs)
        checks[f"{way}: runs succeeded"] = (succeeded, len(days))
        checks[f"{way}: cases opened"] = (sum(r["cases_opened"] for r in runs), plan.expected_cases)
        checks[f"{way}: lines matched"] = (sum(r["matched"] for r in runs), plan.expected_matched)
    return checks


def report_database(
    kind: str,
    found: dict[str, Any],
    plan: MonthPlan,
    days: list[str],
    startup_s: float,
    goal_floor: float,
) -> bool:
    """The database's table, checks and figures; whether every check held."""
    steps, floor = found["steps"], found["floor"]
    sec = {name: step["seconds"] for name, step in steps.items()}
    rss = {name: step["maxrss"] / h.MIB for name, step in steps.items()}
    day_s, ran, by_day = [sec[day] for day in days], found["run_s"]["range"], found["run_s"]["days"]
    whole = sum(sec[name] for name in SETUP) + sec["range"]
    whole_days = whole - sec["range"] + sum(day_s)
    peak = max(rss[name] for name in [*SETUP, "range"])
    starts = len(SETUP) + 1  # the range path's processes
    storage = sum(floor.values()) + starts * startup_s
    table = [("step", "seconds", "peak RSS")]
    table += [
        (f"recon {' '.join(SETUP[n][:2])}", f"{sec[n]:.2f}", f"{rss[n]:.0f} MiB") for n in SETUP
    ]
    table += [
        ("recon reconcile --from --to --no-pull", f"{sec['range']:.2f}", f"{rss['range']:.0f} MiB"),
        ("whole (range path)", f"{whole:.2f}", f"{peak:.0f} MiB"),
        (
            f"{len(days)} x recon reconcile --date",
            f"{sum(day_s):.2f}",
            f"{max(rss[d] for d in days):.0f} MiB",
        ),
        (f"whole with {len(days)} processes", f"{whole_days:.2f}", ""),
    ]
    table += [(f"storage floor: {phase}", f"{s:.2f}", "") for phase, s in floor.items()]
    if floor:
        table.append((f"storage floor: {starts} start-ups", f"{starts * startup_s:.2f}", ""))
        table.append(("storage floor", f"{storage:.2f}", ""))
    if kind == "sqlite" and goal_floor:
        table.append(("goal's floor (bare sqlite3, one join)", f"{goal_floor:.2f}", ""))
    checks = checks_of(steps, plan, days)
    notes = [f"check {name}: {got:,} (expected {want:,})" for name, (got, want) in checks.items()]
    notes.append(
        f"range: median {h.median(ran):.2f}s a run ({min(ran):.2f}-{max(ran):.2f}s, runs rows), "
        f"{sum(ran):.2f}s of {len(ran)} runs in one {sec['range']:.2f}s process; {len(days)} "
        f"processes: median {h.median(day_s):.2f}s a process ({min(day_s):.2f}-{max(day_s):.2f}s)"
        f", {h.median(by_day):.2f}s a run; start-up {startup_s:.2f}s a process"
    )
    if floor:
        notes.append(
            f"whole / storage floor: {whole / storage:.2f}x (range path), "
            f"{whole_days / storage:.2f}x ({len(days)} processes)"
        )
    if kind == "sqlite":
        notes.append(
            f"goals, range path: whole {whole:.1f}s (<= {GOAL_WHOLE_S:g}s: "
            f"{h.verdict(whole <= GOAL_WHOLE_S)}); "
            + (
                f"{whole / goal_floor:.2f}x the goal's floor (<= {GOAL_RATIO:g}x: "
                f"{h.verdict(whole <= GOAL_RATIO * goal_floor)}); "
                if goal_floor
                else ""
            )
            + f"peak RSS {peak:.0f} MiB (<= {GOAL_RSS_MIB:g}: {h.verdict(peak <= GOAL_RSS_MIB)})"
        )
    figures = {
        "bench": "reconcile",
        "database": kind,
        "dossiers": plan.dossiers,
        "lines": plan.lines,
        "days": len(days),
        **{f"{name}_s": round(sec[name], 2) for name in (*SETUP, "range")},
        "whole_s": round(whole, 2),
        "days_s": round(sum(day_s), 2),
        "whole_days_s": round(whole_days, 2),
        "run_median_s": round(h.median(ran), 3),
        "runs_s": [round(seconds, 2) for seconds in ran],
        "day_process_median_s": round(h.median(day_s), 3),
        "day_run_median_s": round(h.median(by_day), 3),
        "startup_s": round(startup_s, 3),
        **{f"storage_{phase}_s": round(s, 2) for phase, s in floor.items()},
        "storage_floor_s": round(storage, 2) if floor else None,
        "ratio": round(whole / storage, 2) if floor else None,
        "ratio_days": round(whole_days / storage, 2) if floor else None,
        "goal_floor_s": round(goal_floor, 2) if kind == "sqlite" and goal_floor else None,
        "peak_rss_mib": round(peak, 1),
        "checks_held": all(got == want for got, want in checks.values()),
    }
    size = f"{plan.dossiers:,} dossiers, {plan.lines:,} lines, {len(days)} days"
    h.report(f"Reconciliation on {kind}, {size}", table, notes, figures)
    return bool(figures["checks_held"])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--dossiers", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres-url", default=POSTGRES_SERVER)
    parser.add_argument("--skip-floor", action="store_true")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    # recon's bytecode compiled once, as an install has it (the children don't write it)
    subprocess.run(
        [str(h.PYTHON), "-m", "compileall", "-q", str(h.ROOT / "recon"), str(h.ROOT / "adapters")],
        check=True,
    )
    days = [(FIRST_DAY + timedelta(days=n)).isoformat() for n in range(args.days)]
    with tempfile.TemporaryDirectory(prefix="recon-bench-") as tmp:
        work = Path(tmp)
        (work / "recon.toml").write_text(
            f'ward_name = "UBND phường Bench"\n[channels.{BULK_CHANNEL}]\nadapter = "file"\n'
        )
        started = time.perf_counter()
        plan = write_month(
            work, dossiers=args.dossiers, lines=args.lines, days=args.days, first_day=FIRST_DAY
        )
        h.log(
            f"generated {plan.dossiers:,} dossiers, {plan.lines:,} lines "
            f"in {time.perf_counter() - started:.0f}s"
        )
        startup_s = startup(work)
        goal_floor = 0.0
        if not args.skip_floor and "sqlite" in kinds:
            goal_floor, resolved = join_floor(work)
            h.log(f"goal's floor: {goal_floor:.2f}s, {resolved:,} lines resolved")
        results = {
            kind: run_database(kind, work, days, args.postgres_url, floor=not args.skip_floor)
            for kind in kinds
        }
    held = [
        report_database(kind, found, plan, days, startup_s, goal_floor)
        for kind, found in results.items()
    ]
    if not all(held):
        sys.exit(1)


if __name__ == "__main__":
    main()
