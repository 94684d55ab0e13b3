"""Dossier intake: `recon dossiers import FILE` against a bare sqlite3 floor.

    .venv/bin/python bench/intake.py [--rows 100000] [--repeat 3]

Goal (docs/performance.md): 100,000 dossiers imported into SQLite within 5x the floor.

The CSV comes from `fixtures.ward.bulk` (seeded, a year of dossiers). Per repeat: the real
import (`import_dossier_file`, the CLI's path) into a fresh migrated database, in a fresh
interpreter, timed with its peak RSS growth; the floor: the same rows, as tuples built before
the clock, through three bare `sqlite3` executemany in one transaction. After the first repeat
both databases must hold identical rows (wall-clock columns aside). The first repeat also
times a re-import of the same file (every row a duplicate), for information.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

# the repo first instead of bench/, whose queue.py would shadow the standard library's queue
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import msgspec
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect

from bench import harness as h
from fixtures.ward.bulk import bulk_dossiers, write_dossiers_csv
from recon.db.types import UTCDateTime
from recon.dossiers.imports import import_dossier_file
from recon.matching.normalize import code_key, ref_key
from recon.settings import load_settings

GOAL_RATIO = 5.0
CSV_NAME = "dossiers.csv"
INSERTS = (
    "INSERT INTO dossiers (id, dossier_code, code_key, procedure_code, procedure_name, applicant,"
    " fee_amount, state, submitted_at, claimed_paid_channel, claimed_paid_at, claimed_paid_day,"
    " claimed_channel_txn_id, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL, ?, ?)",
    "INSERT INTO dossier_payment_refs (dossier_id, ref, ref_key) VALUES (?, ?, ?)",
    "INSERT INTO dossier_history (dossier_id, changed_at, source, actor, change, fee_before,"
    " fee_after, state_before, state_after, changed_fields)"
    " VALUES (?, ?, 'import', ?, 'created', NULL, ?, NULL, ?, '')",
)
COMPARED = (  # every column but the wall-clock ones
    "SELECT dossier_code, code_key, procedure_code, procedure_name, applicant, fee_amount, state,"
    " submitted_at, claimed_paid_channel, claimed_paid_at, claimed_paid_day,"
    " claimed_channel_txn_id FROM dossiers ORDER BY id",
    "SELECT dossier_id, ref, ref_key FROM dossier_payment_refs ORDER BY id",
    "SELECT dossier_id, source, actor, change, fee_before, fee_after, state_before, state_after,"
    " changed_fields FROM dossier_history ORDER BY id",
)


def generate(csv_path: Path, rows: int) -> list[list[tuple[Any, ...]]]:
    """Write the CSV; return the rows the import must store (ids 1..N, as a fresh database)."""
    dossiers = list(bulk_dossiers(rows, date(2025, 1, 1), 365, random.Random(20251124)))
    write_dossiers_csv(csv_path, dossiers)
    dialect = sqlite_dialect()
    text = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert text is not None
    now, actor = text(datetime.now(UTC)), f"cli:{CSV_NAME}"
    tables: list[list[tuple[Any, ...]]] = [[], [], []]
    for n, d in enumerate(dossiers, start=1):
        submitted = text(datetime.fromisoformat(d.submitted_at))
        tables[0].append(
            (
                n,
                d.code,
                code_key(d.code),
                d.procedure_code,
                d.procedure_name,
                d.applicant,
                d.fee,
                d.state,
                submitted,
                now,
                now,
            )
        )
        tables[1].extend((n, ref, ref_key(ref)) for ref in d.refs)
        tables[2].append((n, now, actor, d.fee, d.state))
    return tables


def import_file(url: str, csv_path: str) -> dict[str, Any]:
    summary = asyncio.run(
        import_dossier_file(load_settings({"RECON_DATABASE_URL": url}), Path(csv_path))
    )
    return msgspec.to_builtins(summary)


def floor(path: Path, tables: list[list[tuple[Any, ...]]]) -> float:
    h.fresh_sqlite(path)
    started = time.perf_counter()
    conn = h.bare(path)
    conn.execute("BEGIN IMMEDIATE")
    for sql, rows in zip(INSERTS, tables, strict=True):
        conn.executemany(sql, rows)
    conn.execute("COMMIT")
    conn.close()  # the last connection checkpoints the WAL, as the engine's dispose does
    return time.perf_counter() - started


def checked(result: dict[str, Any], rows: int, field: str) -> dict[str, Any]:
    summary = result["value"]
    if summary["rejected"] or summary[field] != rows:
        raise SystemExit(f"expected {rows} {field}: {str(summary)[:500]}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows, real, floors, reimport = args.rows, [], [], []
    with tempfile.TemporaryDirectory(prefix="recon-bench-") as tmp:
        work = Path(tmp)
        csv_path = work / CSV_NAME
        tables = generate(csv_path, rows)
        h.log(
            f"{rows:,} dossiers, {len(tables[1]):,} payment refs, "
            f"{csv_path.stat().st_size / h.MIB:.1f} MiB"
        )
        for i in range(max(1, args.repeat)):
            url = h.fresh_sqlite(work / "real.db")
            real.append(checked(h.spawned(import_file, url, str(csv_path)), rows, "inserted"))
            floors.append(floor(work / "floor.db", tables))
            if i == 0:
                reimport.append(
                    checked(h.spawned(import_file, url, str(csv_path)), rows, "duplicates")
                )
                for sql in COMPARED:
                    if h.digest(work / "real.db", sql) != h.digest(work / "floor.db", sql):
                        raise SystemExit(f"the floor stored other rows than the import: {sql}")
            h.log(f"repeat {i + 1}: real {real[-1]['seconds']:.2f}s, floor {floors[-1]:.2f}s")

    real_s, floor_s = h.median([r["seconds"] for r in real]), h.median(floors)
    growth = max(r["rss_growth"] for r in real) / h.MIB
    table = [
        ("", "median", "rows/s", "runs (s)"),
        (
            "real import",
            f"{real_s:.2f}s",
            f"{rows / real_s:,.0f}",
            h.runs_text([r["seconds"] for r in real]),
        ),
        ("floor (bare sqlite3)", f"{floor_s:.2f}s", f"{rows / floor_s:,.0f}", h.runs_text(floors)),
        ("re-import (duplicates)", f"{reimport[0]['seconds']:.2f}s", "", ""),
    ]
    ratio = real_s / floor_s
    notes = [
        f"ratio real/floor: {ratio:.2f}x "
        f"(goal <= {GOAL_RATIO:g}x: {h.verdict(ratio <= GOAL_RATIO)});"
        " identical rows: yes",
        f"peak RSS growth of the import: {growth:.1f} MiB",
    ]
    figures = {
        "bench": "intake",
        "rows": rows,
        "payment_refs": len(tables[1]),
        "real_s": round(real_s, 3),
        "floor_s": round(floor_s, 3),
        "ratio": round(ratio, 2),
        "goal_met": ratio <= GOAL_RATIO,
        "reimport_s": round(reimport[0]["seconds"], 3),
        "peak_rss_growth_mib": round(growth, 1),
        "real_runs_s": [round(r["seconds"], 3) for r in real],
        "floor_runs_s": [round(t, 3) for t in floors],
    }
    h.report(f"Dossier intake, {rows:,} dossiers, median of {len(real)}", table, notes, figures)


if __name__ == "__main__":
    main()
