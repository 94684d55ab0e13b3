"""Statement ingestion: one channel-day pulled over HTTP from the simulator, against a floor.

    .venv/bin/python bench/ingest.py [--lines 100000] [--repeat 3] [--channel momo portal bank]

Goal (docs/performance.md): `recon statements pull` of a 100,000-line channel-day into SQLite
within 5 s and 200 MiB of peak RSS growth.

The simulators (`python -m fixtures.simulators`) run in a process of their own; each channel's
day is `fixtures.ward.synthetic_day` (`POST /_sim/days/{date}`), served in pages of 500. Per
repeat: the real pull (`pull_channel_day` as `recon statements pull` runs it: adapter, checks,
storing, commit) into a fresh migrated database, in a fresh interpreter, timed with its peak RSS
growth; the fetch alone (no database), for information; the floor: the rows the first pull
stored, read back before the clock, through one bare `sqlite3` executemany. After the first
repeat both `statement_lines` tables must be identical, every column.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import socket
import sqlite3
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

# the repo first instead of bench/, whose queue.py would shadow the standard library's queue
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import httpx

from bench import harness as h
from fixtures.simulators.server import recon_config_toml, spawn_simulators
from recon.db.session import open_database
from recon.settings import load_settings
from recon.statements.channels import build_adapter
from recon.statements.pull import pull_channel_day

GOAL_S, GOAL_RSS_MIB = 5.0, 200.0
DAY = date(2025, 11, 20)
LINES_SQL = "SELECT * FROM statement_lines ORDER BY id"


def free_port_base() -> int:
    """A base whose +1, +2, +3 are free on localhost now (the simulators bind them next)."""
    for base in range(random.randrange(20_000, 40_000), 60_000, 97):
        with contextlib.ExitStack() as stack:
            try:
                for offset in (1, 2, 3):
                    stack.enter_context(socket.socket()).bind(("127.0.0.1", base + offset))
            except OSError:
                continue
            return base
    raise RuntimeError("no free ports for the simulators")


def pull(env: dict[str, str], channel: str) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        settings = load_settings(env)
        async with (
            open_database(settings.database_url) as sessionmaker,
            httpx.AsyncClient() as client,
        ):
            outcome = await pull_channel_day(
                sessionmaker=sessionmaker,
                settings=settings,
                channel=channel,
                day=DAY,
                client=client,
            )
        return {"status": outcome.status, "lines": outcome.lines, "inserted": outcome.inserted}

    return asyncio.run(run())


def fetch(env: dict[str, str], channel: str) -> int:
    async def run() -> int:
        async with httpx.AsyncClient() as client:
            adapter = build_adapter(load_settings(env), channel, client)
            return len((await adapter.fetch_day(DAY)).lines)

    return asyncio.run(run())


def floor(path: Path, fetches: list[tuple[Any, ...]], lines: list[tuple[Any, ...]]) -> float:
    h.fresh_sqlite(path)
    conn = h.bare(path)
    conn.execute(
        f"INSERT INTO channel_fetches VALUES ({', '.join('?' * len(fetches[0]))})", fetches[0]
    )
    conn.close()  # the fetch record the lines point to, before the clock
    started = time.perf_counter()
    conn = h.bare(path)
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        f"INSERT INTO statement_lines VALUES ({', '.join('?' * len(lines[0]))})", lines
    )
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - started


def bench_channel(
    sims: Any, base_env: dict[str, str], work: Path, channel: str, lines: int, repeat: int
) -> dict[str, Any]:
    with httpx.Client(timeout=120) as client:
        client.post(
            f"{sims.urls[channel]}/_sim/config", json={"max_page_size": 500}
        ).raise_for_status()
        client.post(
            f"{sims.urls[channel]}/_sim/days/{DAY}", json={"count": lines}
        ).raise_for_status()
    real, fetched, floors = [], [], []
    for i in range(repeat):
        env = {**base_env, "RECON_DATABASE_URL": h.fresh_sqlite(work / "real.db")}
        real.append(h.spawned(pull, env, channel))
        outcome = real[-1]["value"]
        if outcome["status"] != "succeeded" or outcome["inserted"] != outcome["lines"]:
            raise SystemExit(f"{channel} pull: {outcome}")
        fetched.append(h.spawned(fetch, base_env, channel))
        if fetched[-1]["value"] != outcome["lines"]:
            raise SystemExit(f"fetch saw {fetched[-1]['value']} lines, the pull {outcome['lines']}")
        if i == 0:
            with contextlib.closing(sqlite3.connect(work / "real.db")) as conn:
                rows = (
                    conn.execute(LINES_SQL).fetchall(),
                    conn.execute("SELECT * FROM channel_fetches").fetchall(),
                )
        floors.append(floor(work / "floor.db", rows[1], rows[0]))
        if i == 0 and h.digest(work / "real.db", LINES_SQL) != h.digest(
            work / "floor.db", LINES_SQL
        ):
            raise SystemExit("the floor stored other rows than the pull")
        h.log(
            f"{channel} {i + 1}: pull {real[-1]['seconds']:.2f}s, "
            f"fetch {fetched[-1]['seconds']:.2f}s, floor {floors[-1]:.2f}s"
        )
    return {
        "lines": len(rows[0]),
        "real_s": h.median([r["seconds"] for r in real]),
        "real_runs_s": [round(r["seconds"], 2) for r in real],
        "cpu_s": h.median([r["cpu"] for r in real]),
        "fetch_s": h.median([r["seconds"] for r in fetched]),
        "floor_s": h.median(floors),
        "rss_growth_mib": max(r["rss_growth"] for r in real) / h.MIB,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--channel",
        nargs="+",
        choices=("momo", "portal", "bank"),
        default=["momo", "portal", "bank"],
    )
    args = parser.parse_args()
    found: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="recon-bench-") as tmp:
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(2, 1)  # the simulators' banner goes to stderr: stdout is for the figures
        sims = spawn_simulators(
            port_base=free_port_base(),
            seed=2024,
            start=DAY,
            end=DAY,
            extra_args=["--log-level", "warning"],
        )
        os.dup2(saved, 1)
        os.close(saved)
        with sims:
            work = Path(tmp)
            (work / "recon.toml").write_text(
                recon_config_toml(sims.urls, sims.credentials), encoding="utf-8"
            )
            env = {"RECON_CONFIG": str(work / "recon.toml"), **sims.credentials.recon_env()}
            for channel in args.channel:
                found[channel] = bench_channel(
                    sims, env, work, channel, args.lines, max(1, args.repeat)
                )

    table = [
        ("channel", "lines", "real pull", "CPU", "fetch only", "floor", "peak RSS +", "runs (s)")
    ]
    for channel, f in found.items():
        table.append(
            (
                channel,
                f"{f['lines']:,}",
                f"{f['real_s']:.2f}s",
                f"{f['cpu_s']:.2f}s",
                f"{f['fetch_s']:.2f}s",
                f"{f['floor_s']:.2f}s",
                f"{f['rss_growth_mib']:.1f} MiB",
                h.runs_text(f["real_runs_s"]),
            )
        )
    slowest = max(f["real_s"] for f in found.values())
    biggest = max(f["rss_growth_mib"] for f in found.values())
    notes = [
        f"slowest median pull {slowest:.2f}s "
        f"(goal <= {GOAL_S:g}s: {h.verdict(slowest <= GOAL_S)}); "
        f"largest RSS growth {biggest:.1f} MiB "
        f"(goal <= {GOAL_RSS_MIB:g} MiB: {h.verdict(biggest <= GOAL_RSS_MIB)}); "
        "identical rows: yes"
    ]
    figures = {"bench": "ingest", "lines": args.lines, "repeat": args.repeat}
    figures |= {
        c: {k: round(v, 3) if isinstance(v, float) else v for k, v in f.items()}
        for c, f in found.items()
    }
    h.report(
        f"Statement ingestion, a {args.lines:,}-line day, median of {args.repeat}",
        table,
        notes,
        figures,
    )


if __name__ == "__main__":
    main()
