"""Statement ingestion benchmark: one channel-day pulled over HTTP against a bare sqlite3 floor.

    .venv/bin/python bench/ingest.py [--lines 100000] [--repeat 3] [--channel momo]

Starts the channel simulators (`python -m fixtures.simulators`) in a process of their own, so
their CPU and memory never mix into the measured process, and makes a synthetic day of N lines
on the chosen channel (`POST /_sim/days/{date}`). Then, for each repeat:

* real: a fresh migrated SQLite database, then, in a freshly spawned interpreter, what `recon
  statements pull` does: open the database and an HTTP client, `pull_channel_day` (adapter
  fetch page by page, signatures and control totals, Core executemany into `statement_lines`,
  the fetch record and the channel-day), commit, dispose. The child times that and reports its
  own peak RSS growth (the peak RSS during the pull minus the RSS before it; see `PeakRss` for
  why not `ru_maxrss`), and its CPU time;
* fetch only (for information): in another spawned child, `adapter.fetch_day` alone, no
  database: where the HTTP and parsing part of the time goes, and its RSS growth;
* floor: a fresh migrated SQLite database with recon's pragmas; the rows exactly as the first
  real pull stored them (read back from its database before the clock starts) inserted with
  bare `sqlite3` executemany into `statement_lines` in one transaction, timed until the
  connection closes. After the first repeat both tables are compared row by row.

The simulators run on the same machine: the CPU they spend serving the pages while the pull
runs is measured (from /proc) and printed, since on a small machine it competes with the pull.

Prints medians, lines/s, the ratio real/floor and peak RSS growth, then one JSON line.
The goals (docs/performance.md): the real pull within 5 s and 200 MiB of RSS growth.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import os
import platform
import random
import resource
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from multiprocessing import get_context
from pathlib import Path
from typing import Any

# run as a script from anywhere: make the repository importable
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.rss import PeakRss  # noqa: E402
from fixtures.simulators.server import (  # noqa: E402
    SimulatorProcess,
    recon_config_toml,
    spawn_simulators,
)
from recon.db.migrate import upgrade  # noqa: E402
from recon.db.session import open_database  # noqa: E402
from recon.settings import load_settings  # noqa: E402
from recon.statements.channels import build_adapter  # noqa: E402
from recon.statements.pull import pull_channel_day  # noqa: E402

GOAL_SECONDS = 5.0
GOAL_RSS_MIB = 200.0
PAGE_SIZE = 500  # what the adapters ask for
DAY = date(2025, 11, 20)  # the synthetic day; the simulators' ward holds only this day
SIM_SEED = 2024
CHANNELS = ("momo", "portal", "bank")


# --- the simulators ------------------------------------------------------------------------


def free_port_base() -> int:
    """A base whose +1, +2, +3 are free on localhost now (the simulators bind them next)."""
    start = random.Random().randrange(20_000, 40_000)
    for base in range(start, 60_000, 97):
        socks: list[socket.socket] = []
        try:
            for offset in (1, 2, 3):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no free ports for the simulators")


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """While a child is started: its banner goes to our stderr, keeping stdout for figures."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def start_simulators() -> SimulatorProcess:
    with stdout_to_stderr():
        return spawn_simulators(
            port_base=free_port_base(),
            seed=SIM_SEED,
            start=DAY,
            end=DAY,
            extra_args=["--log-level", "warning"],
        )


def prepare_day(sims: SimulatorProcess, channel: str, lines: int) -> tuple[int, float]:
    """Set the page cap to what the adapters ask and make the synthetic day; (page size used,
    seconds the simulator took to build the day)."""
    url = sims.urls[channel]
    with httpx.Client(timeout=120) as client:
        answer = client.post(f"{url}/_sim/config", json={"max_page_size": PAGE_SIZE})
        answer.raise_for_status()
        page_size = min(PAGE_SIZE, int(answer.json()["max_page_size"]))
        started = time.perf_counter()
        answer = client.post(f"{url}/_sim/days/{DAY.isoformat()}", json={"count": lines})
        answer.raise_for_status()
        built = time.perf_counter() - started
        if answer.json().get("count") != lines:
            raise SystemExit(f"simulator made {answer.json().get('count')} lines, not {lines}")
    return page_size, built


def cpu_seconds_of(pid: int) -> float | None:
    """User + system CPU a process has used so far (Linux /proc), None where unreadable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the children --------------------------------------------------------------------------


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _pull(env: dict[str, str], channel: str, day: date) -> dict[str, Any]:
    """`recon statements pull --channel C --date D`: database and client opened, the day
    pulled and stored, both closed (the engine's dispose checkpoints the WAL)."""
    settings = load_settings(env)
    started = time.perf_counter()
    async with (
        open_database(settings.database_url) as sessionmaker,
        httpx.AsyncClient() as client,
    ):
        outcome = await pull_channel_day(
            sessionmaker=sessionmaker, settings=settings, channel=channel, day=day, client=client
        )
    elapsed = time.perf_counter() - started
    return {
        "elapsed": elapsed,
        "status": outcome.status,
        "error": outcome.error,
        "lines": outcome.lines,
        "inserted": outcome.inserted,
    }


async def _fetch(env: dict[str, str], channel: str, day: date) -> dict[str, Any]:
    """The adapter alone: every page over HTTP, parsed and checked, nothing stored."""
    settings = load_settings(env)
    started = time.perf_counter()
    async with httpx.AsyncClient() as client:
        statement = await build_adapter(settings, channel, client).fetch_day(day)
    elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "status": "succeeded", "lines": len(statement.lines)}


def child(kind: str, env: dict[str, str], channel: str, day_iso: str) -> dict[str, Any]:
    """In a fresh spawned interpreter (recon already imported): one timed pull or fetch, its
    peak RSS growth (the peak during it minus the RSS before it) and the CPU time it used."""
    meter = PeakRss()
    baseline, cpu = meter.start(), _cpu_self()
    runner = _pull if kind == "pull" else _fetch
    result = asyncio.run(runner(env, channel, date.fromisoformat(day_iso)))
    result.update(rss_baseline=baseline, rss_peak=meter.peak(), cpu=_cpu_self() - cpu)
    return result


def run_child(kind: str, env: dict[str, str], channel: str, sim_pid: int) -> dict[str, Any]:
    """Spawn, run, and add the CPU time the simulators used while the child's task ran (its
    start-up and imports excluded: the first, empty task waits for them)."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        pool.submit(int, 0).result()  # the child is up and has imported this module
        sim_before = cpu_seconds_of(sim_pid)
        result = pool.submit(child, kind, env, channel, DAY.isoformat()).result()
        sim_after = cpu_seconds_of(sim_pid)
    if result["status"] != "succeeded":
        raise SystemExit(f"{kind} failed: {result.get('error')}")
    result["sim_cpu"] = (
        sim_after - sim_before if sim_before is not None and sim_after is not None else None
    )
    return result


# --- databases and the floor ---------------------------------------------------------------


def fresh_database(path: Path) -> str:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    asyncio.run(upgrade(load_settings({"RECON_DATABASE_URL": url}).database_url))
    return url


def remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


class FloorRows:
    """What a pull stored, read back as plain tuples: its fetch record (for the foreign key,
    written before the clock starts) and every statement line, in id order."""

    def __init__(self, db_path: Path) -> None:
        conn = sqlite3.connect(db_path)
        try:
            fetch_columns = _columns(conn, "channel_fetches")
            self.fetch_sql = _insert_sql("channel_fetches", fetch_columns)
            self.fetch_rows = conn.execute(
                f"SELECT {', '.join(fetch_columns)} FROM channel_fetches ORDER BY id"
            ).fetchall()
            # the id is left to SQLite, as in the pull's own executemany
            columns = [c for c in _columns(conn, "statement_lines") if c != "id"]
            self.line_sql = _insert_sql("statement_lines", columns)
            self.line_rows = conn.execute(
                f"SELECT {', '.join(columns)} FROM statement_lines ORDER BY id"
            ).fetchall()
        finally:
            conn.close()


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]


def _insert_sql(table: str, columns: list[str]) -> str:
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


def _connect(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=10)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def floor_insert(db_path: Path, rows: FloorRows) -> float:
    """Bare sqlite3: recon's pragmas, one BEGIN IMMEDIATE ... COMMIT, one executemany; timed
    from connect to close (the last connection checkpoints the WAL, as the engine's dispose)."""
    conn = _connect(db_path)
    conn.executemany(rows.fetch_sql, rows.fetch_rows)  # autocommit, before the clock
    conn.close()
    started = time.perf_counter()
    conn = _connect(db_path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(rows.line_sql, rows.line_rows)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return time.perf_counter() - started


def lines_digest(db_path: Path) -> tuple[int, str]:
    """Row count and a digest of `statement_lines`, every column, in id order."""
    digest = hashlib.sha256()
    count = 0
    conn = sqlite3.connect(db_path)
    try:
        for row in conn.execute("SELECT * FROM statement_lines ORDER BY id"):
            digest.update(repr(row).encode())
            count += 1
    finally:
        conn.close()
    return count, digest.hexdigest()


# --- driver --------------------------------------------------------------------------------


def mib(n: float) -> float:
    return n / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--channel", choices=CHANNELS, default="momo")
    args = parser.parse_args()
    n_lines, repeat, channel = args.lines, max(1, args.repeat), args.channel
    bench_started = time.perf_counter()

    real_times: list[float] = []
    fetch_times: list[float] = []
    floor_times: list[float] = []
    rss_growth: list[int] = []
    rss_peak: list[int] = []
    fetch_rss_growth: list[int] = []
    child_cpu: list[float] = []
    sim_cpu: list[float] = []
    fetch_cpu: list[float] = []
    fetch_sim_cpu: list[float] = []
    stored = 0
    with (
        tempfile.TemporaryDirectory(prefix="recon-bench-") as tmp,
        start_simulators() as sims,
    ):
        work = Path(tmp)
        page_size, built = prepare_day(sims, channel, n_lines)
        pages = max(1, math.ceil(n_lines / page_size))
        config = work / "recon.toml"
        config.write_text(recon_config_toml(sims.urls, sims.credentials), encoding="utf-8")
        base_env = {"RECON_CONFIG": str(config), **sims.credentials.recon_env()}
        _log(
            f"simulators up (pid {sims.process.pid}); {channel} day {DAY} of {n_lines:,} lines "
            f"built in {built:.2f}s, {pages:,} pages of {page_size}"
        )
        floor_rows: FloorRows | None = None
        for i in range(repeat):
            real_db, floor_db = work / f"real-{i}.db", work / f"floor-{i}.db"
            env = {**base_env, "RECON_DATABASE_URL": fresh_database(real_db)}
            result = run_child("pull", env, channel, sims.process.pid)
            if result["inserted"] != result["lines"]:
                raise SystemExit(f"pull stored {result['inserted']} of {result['lines']} lines")
            stored = result["lines"]
            real_times.append(result["elapsed"])
            rss_growth.append(result["rss_peak"] - result["rss_baseline"])
            rss_peak.append(result["rss_peak"])
            child_cpu.append(result["cpu"])
            if result["sim_cpu"] is not None:
                sim_cpu.append(result["sim_cpu"])

            fetched = run_child("fetch", base_env, channel, sims.process.pid)
            if fetched["lines"] != stored:
                raise SystemExit(f"fetch saw {fetched['lines']} lines, the pull {stored}")
            fetch_times.append(fetched["elapsed"])
            fetch_rss_growth.append(fetched["rss_peak"] - fetched["rss_baseline"])
            fetch_cpu.append(fetched["cpu"])
            if fetched["sim_cpu"] is not None:
                fetch_sim_cpu.append(fetched["sim_cpu"])

            if floor_rows is None:  # the rows exactly as the pull stored them
                floor_rows = FloorRows(real_db)
                if len(floor_rows.line_rows) != stored:
                    raise SystemExit(f"{len(floor_rows.line_rows)} rows in the database")
            fresh_database(floor_db)
            floor_times.append(floor_insert(floor_db, floor_rows))

            if i == 0:  # the floor stores exactly what the pull stores
                real_digest, floor_digest = lines_digest(real_db), lines_digest(floor_db)
                if real_digest != floor_digest:
                    raise SystemExit(f"floor differs: {real_digest} != {floor_digest}")
            _log(
                f"repeat {i + 1}/{repeat}: real {real_times[-1]:.2f}s "
                f"({mib(rss_growth[-1]):.0f} MiB growth, peak {mib(rss_peak[-1]):.0f} MiB), "
                f"fetch only {fetch_times[-1]:.2f}s, "
                f"floor {floor_times[-1]:.2f}s"
            )
            remove_database(real_db)
            remove_database(floor_db)

    real = statistics.median(real_times)
    fetch = statistics.median(fetch_times)
    floor = statistics.median(floor_times)
    ratio = real / floor
    growth = mib(max(rss_growth))
    time_met, rss_met = real <= GOAL_SECONDS, growth <= GOAL_RSS_MIB
    sim_median = statistics.median(sim_cpu) if sim_cpu else None
    cpu_median = statistics.median(child_cpu)
    figures = {
        "bench": "ingest",
        "channel": channel,
        "lines": stored,
        "lines_made": n_lines,
        "page_size": page_size,
        "pages": pages,
        "repeat": repeat,
        "real_s": round(real, 3),
        "real_lines_per_s": round(stored / real),
        "fetch_s": round(fetch, 3),
        "fetch_lines_per_s": round(stored / fetch),
        "floor_s": round(floor, 3),
        "floor_lines_per_s": round(stored / floor),
        "ratio": round(ratio, 2),
        "goal_s": GOAL_SECONDS,
        "goal_time_met": time_met,
        "peak_rss_growth_mib": round(growth, 1),
        "peak_rss_mib": round(mib(max(rss_peak)), 1),
        "goal_rss_mib": GOAL_RSS_MIB,
        "goal_rss_met": rss_met,
        "fetch_rss_growth_mib": round(mib(max(fetch_rss_growth)), 1),
        "real_cpu_s": round(cpu_median, 3),
        "sim_cpu_during_real_s": round(sim_median, 3) if sim_median is not None else None,
        "fetch_cpu_s": round(statistics.median(fetch_cpu), 3),
        "sim_cpu_during_fetch_s": (
            round(statistics.median(fetch_sim_cpu), 3) if fetch_sim_cpu else None
        ),
        "real_runs_s": [round(t, 3) for t in real_times],
        "fetch_runs_s": [round(t, 3) for t in fetch_times],
        "floor_runs_s": [round(t, 3) for t in floor_times],
        "rss_growth_runs_mib": [round(mib(g), 1) for g in rss_growth],
        "sim_cpu_runs_s": [round(t, 3) for t in sim_cpu],
        "bench_wall_s": round(time.perf_counter() - bench_started, 1),
        "cpus": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }

    rows = [
        ("", "median", "lines/s", "runs (s)"),
        ("real pull", f"{real:.2f}s", f"{stored / real:,.0f}", _runs(real_times)),
        ("fetch only (HTTP)", f"{fetch:.2f}s", f"{stored / fetch:,.0f}", _runs(fetch_times)),
        ("floor (sqlite3)", f"{floor:.2f}s", f"{stored / floor:,.0f}", _runs(floor_times)),
    ]
    widths = [max(len(row[c]) for row in rows) for c in range(4)]
    print(
        f"Statement ingestion: {stored:,} {channel} lines stored"
        + (f" (of {n_lines:,} served)" if stored != n_lines else "")
        + f", {pages:,} pages of {page_size}, "
        f"median of {repeat} (Python {figures['python']}, SQLite {figures['sqlite']}, "
        f"{figures['cpus']} CPUs)"
    )
    for row in rows:
        print(
            "  ".join(
                cell.ljust(w) if c == 0 else cell.rjust(w)
                for c, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print(f"ratio real/floor: {ratio:.2f}x; fetch only is {fetch / real:.0%} of the real pull")
    print(
        f"real pull: {real:.2f}s (goal <= {GOAL_SECONDS:g}s: {'met' if time_met else 'MISSED'}); "
        f"peak RSS growth {growth:.1f} MiB (goal <= {GOAL_RSS_MIB:g} MiB: "
        f"{'met' if rss_met else 'MISSED'}; process peak {mib(max(rss_peak)):.1f} MiB, "
        f"fetch only {mib(max(fetch_rss_growth)):.1f} MiB)"
    )
    if sim_median is not None:
        print(
            f"CPU during the real pull: the pull {cpu_median:.2f}s, the simulators "
            f"{sim_median:.2f}s, on {figures['cpus']} CPUs (the simulators share the machine)"
        )
    print(json.dumps(figures, ensure_ascii=False))


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _runs(times: list[float]) -> str:
    return " ".join(f"{t:.2f}" for t in times)


if __name__ == "__main__":
    main()
