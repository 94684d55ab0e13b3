"""Ledger: `build_ledger` over a whole year of a 1,000,000-line SQLite database.

    .venv/bin/python bench/ledger.py [--lines 1000000] [--repeat 5] [--channels 4]
        [--closed-days 31]

Goal (docs/performance.md): the ledger of a year (365 days, all channels) of 1,000,000 lines
built within 2 s.

Untimed: a migrated database filled by `fixtures.ward.bulk_year.fill_year` (a reconciled year,
bare sqlite3 in recon's stored formats), its first days closed through recon's own `close_day`,
planner statistics refreshed as runs do. Then, in a fresh interpreter per repeat and variant,
what `recon ledger --from 2025-01-01 --to 2025-12-31` does: open the database, `build_ledger`
for all channels, dispose, then render nothing, JSON, CSV or XLSX. The ledger's totals must equal
a bare SQL count joining `matches`, and every line's `matched` bit its `matches` row. The floor:
recon's main aggregate (recorded from one build) run through bare sqlite3, with its plan.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

# the repo first instead of bench/, whose queue.py would shadow the standard library's queue
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import msgspec
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bench import harness as h
from fixtures.ward.bulk_year import CLOSER, YEAR_FIRST, YEAR_LAST, fill_year, year_channels
from recon.days.service import close_day, live_case_ids
from recon.db.session import open_database, refresh_statistics
from recon.ledger.exports import render_ledger
from recon.ledger.service import build_ledger

GOAL_S = 2.0
VARIANTS = ("build", "json", "csv", "xlsx")
TOTALS = (
    "SELECT sum(kind = 'payment'), sum(CASE WHEN kind = 'payment' THEN amount END),"
    " sum(kind = 'refund'), sum(CASE WHEN kind = 'refund' THEN amount END), sum(fee),"
    " sum(kind = 'payment' AND m.id IS NOT NULL),"
    " sum(CASE WHEN kind = 'payment' AND m.id IS NOT NULL THEN amount END)"
    " FROM statement_lines l LEFT JOIN matches m ON m.line_id = l.id"
    " WHERE status = 'success' AND kind IN ('payment', 'refund')"
)
BIT_DISAGREES = (
    "SELECT count(*) FROM statement_lines WHERE matched <> (id IN (SELECT line_id FROM matches))"
)


async def close_days(url: str, days: int, channels: list[str]) -> None:
    async with open_database(url) as sessionmaker:
        for day in (YEAR_FIRST + timedelta(days=n) for n in range(days)):
            async with sessionmaker() as session:
                note = "Chốt sổ sau đối soát" + "".join(
                    f" #{c}" for c in await live_case_ids(db_session=session, day=day)
                )
                now = datetime(day.year, day.month, day.day, 3, tzinfo=UTC) + timedelta(days=3)
                await close_day(
                    db_session=session,
                    day=day,
                    username=CLOSER,
                    note=note,
                    channels=channels,
                    now=now,
                )
        async with sessionmaker() as session:
            await refresh_statistics(session)


def ledger(url: str, channels: list[str], variant: str) -> dict[str, Any]:
    """One `recon ledger` over the year: built, then rendered unless `variant` is "build"."""

    async def build() -> Any:
        async with open_database(url) as sessionmaker, sessionmaker() as session:
            return await build_ledger(
                db_session=session, start=YEAR_FIRST, end=YEAR_LAST, channels=channels
            )

    built = asyncio.run(build())
    size = (
        0
        if variant == "build"
        else len(render_ledger(built, variant, ward_name="UBND phường Hòa An"))
    )
    return {
        "rows": len(built.rows),
        "totals": msgspec.to_builtins(built.totals)["all"],
        "bytes": size,
    }


def main_aggregate(url: str, channels: list[str]) -> tuple[str, list[Any]]:
    """The statement recon sends for the year's aggregate, with its parameters."""
    sent: list[tuple[str, list[Any]]] = []

    def record(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        sent.append((sql, [p.isoformat() if isinstance(p, date) else p for p in params or ()]))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        ledger(url, channels, "build")
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    return next((sql, params) for sql, params in sent if "FROM statement_lines" in sql)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument("--closed-days", type=int, default=31)
    args = parser.parse_args()
    channels = year_channels(args.channels)
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="recon-bench-") as tmp:
        path = Path(tmp) / "ledger.db"
        started = time.perf_counter()
        url = h.fresh_sqlite(path)
        fill_year(path, lines=args.lines, channels=channels)
        asyncio.run(close_days(url, args.closed_days, channels))
        built_s, db_mib = time.perf_counter() - started, path.stat().st_size / h.MIB
        h.log(
            f"database of {args.lines:,} lines, {db_mib:,.0f} MiB, built untimed in {built_s:.0f}s"
        )
        for _ in range(max(1, args.repeat)):
            for variant in VARIANTS:
                runs[variant].append(h.spawned(ledger, url, channels, variant))
        with sqlite3.connect(path) as conn:
            pc, pa, rc, ra, fees, mc, ma = conn.execute(TOTALS).fetchone()
            disagree = conn.execute(BIT_DISAGREES).fetchone()[0]
            sql, params = main_aggregate(url, channels)
            floor = []
            for _ in range(max(1, args.repeat)):
                started = time.perf_counter()
                conn.execute(sql, params).fetchall()
                floor.append(time.perf_counter() - started)
            plan = [str(row[3]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
        conn.close()
    got = runs["build"][0]["value"]["totals"]
    want = {"payments_count": pc, "payments_amount": pa, "refunds_count": rc, "refunds_amount": ra}
    want |= {"fees": fees, "net": pa - ra - fees, "matched_count": mc, "matched_amount": ma}
    held = disagree == 0 and all(got[k] == v for k, v in want.items())

    table = [("", "median", "CPU", "peak RSS +", "runs (s)")]
    for variant, found in runs.items():
        table.append(
            (
                "build_ledger" if variant == "build" else f"build + {variant}",
                f"{h.median([r['seconds'] for r in found]):.2f}s",
                f"{h.median([r['cpu'] for r in found]):.2f}s",
                f"{max(r['rss_growth'] for r in found) / h.MIB:.1f} MiB",
                h.runs_text([r["seconds"] for r in found]),
            )
        )
    table.append(
        ("main aggregate, bare sqlite3", f"{h.median(floor):.2f}s", "", "", h.runs_text(floor))
    )
    build = h.median([r["seconds"] for r in runs["build"]])
    notes = [
        f"build_ledger over the year: {build:.2f}s "
        f"(goal <= {GOAL_S:g}s: {h.verdict(build <= GOAL_S)})",
        "checks: totals equal a bare count joining matches, matched bits agree: "
        + ("yes" if held else "NO"),
        "plan: " + "; ".join(plan),
    ]
    figures = {
        "bench": "ledger",
        "lines": args.lines,
        "channels": len(channels),
        "ledger_rows": runs["build"][0]["value"]["rows"],
        "db_mib": round(db_mib),
        "build_s": round(build, 3),
        "build_cpu_s": round(h.median([r["cpu"] for r in runs["build"]]), 3),
        "xlsx_s": round(h.median([r["seconds"] for r in runs["xlsx"]]), 3),
        "floor_s": round(h.median(floor), 3),
        "goal_met": build <= GOAL_S,
        "checks_held": held,
    }
    h.report(
        f"Ledger of 2025, {args.lines:,} lines, {len(channels)} channels, median of {args.repeat}",
        table,
        notes,
        figures,
    )
    if not held:
        sys.exit(1)


if __name__ == "__main__":
    main()
