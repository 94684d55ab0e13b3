"""What every bench shares: a fresh interpreter per measured step, its time, CPU and peak RSS;
fresh and bare SQLite databases, fresh PostgreSQL ones; a storage floor; medians; a table and
one JSON line.

Peak RSS on Linux: a spawned child's `ru_maxrss` starts at its parent's high-water mark (exec
folds the old address space's peak into it), so a bench holding its generated rows would hide
the child's growth. `PeakRss` instead resets the process's own peak (`VmHWM`) to its current
RSS (`/proc/self/clear_refs`, "5") and reads it back. A CLI process is started by a small
wrapper interpreter (`-S`), so its `ru_maxrss` from `wait4` is its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import platform
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
RECON = ROOT / ".venv" / "bin" / "recon"
MIB = 2**20


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def runs_text(values: Sequence[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


# --- one measured step in a fresh interpreter ------------------------------------------------


def _status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024  # "VmHWM:   123456 kB"
    raise OSError(f"no {field} in /proc/self/status")


class PeakRss:
    """The peak RSS between `start()` and `peak()` (`VmHWM` reset; `ru_maxrss` elsewhere)."""

    def start(self) -> int:
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.proc, self.baseline = True, _status_bytes("VmRSS")
        except OSError:
            self.proc, self.baseline = False, _maxrss()
        return self.baseline

    def peak(self) -> int:
        return _status_bytes("VmHWM") if self.proc else _maxrss()


def _maxrss() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measured(fn: Callable[..., Any], *args: Any) -> dict[str, Any]:
    """Run `fn(*args)` here: wall and CPU time, peak RSS growth, and what it returned."""
    meter = PeakRss()
    baseline, cpu, started = meter.start(), _cpu(), time.perf_counter()
    value = fn(*args)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "cpu": _cpu() - cpu,
        "rss_growth": meter.peak() - baseline,
        "rss_peak": meter.peak(),
        "value": value,
    }


def spawned(fn: Callable[..., Any], *args: Any) -> dict[str, Any]:
    """`measured(fn, *args)` in a freshly spawned interpreter, as the CLI runs: the bench's
    rows and imports stay out of it, and its imports are done before the clock starts."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        pool.submit(int, 0).result()  # the child is up and has imported the bench
        return pool.submit(measured, fn, *args).result()


_WRAPPER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
with open(sys.argv[1], "w") as f:
    json.dump({"exit": os.waitstatus_to_exitcode(status), "seconds": time.perf_counter() - started,
               "cpu": usage.ru_utime + usage.ru_stime, "maxrss": usage.ru_maxrss * 1024}, f)
"""


def cli(args: list[str], env: dict[str, str], work: Path) -> dict[str, Any]:
    """One `recon ...` process: wall and CPU time, peak RSS and stdout; exits on failure."""
    out, err, usage = work / "cli.out", work / "cli.err", work / "cli.json"
    usage.unlink(missing_ok=True)
    with out.open("wb") as stdout, err.open("wb") as stderr:
        command = [sys.executable, "-S", "-c", _WRAPPER, str(usage), str(RECON), *args]
        subprocess.run(command, stdout=stdout, stderr=stderr, env=env, cwd=work, check=False)
    found = json.loads(usage.read_text()) if usage.exists() else {}
    if found.get("exit") != 0:
        tail = err.read_text(errors="replace")[-2000:]
        raise SystemExit(f"`recon {' '.join(args)}` exited {found.get('exit')}\n{tail}")
    return {**found, "stdout": out.read_text(encoding="utf-8")}


# --- SQLite ------------------------------------------------------------------------------------


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def migrated(url: str) -> str:
    """The database at `url` migrated by recon; its URL as recon's settings make it."""
    from recon.db.migrate import upgrade
    from recon.settings import load_settings

    url = load_settings({"RECON_DATABASE_URL": url}).database_url
    asyncio.run(upgrade(url))
    return url


def fresh_sqlite(path: Path) -> str:
    """A freshly migrated SQLite database at `path`; its URL as recon's settings make it."""
    remove_sqlite(path)
    return migrated(f"sqlite:///{path}")


def bare(path: Path) -> sqlite3.Connection:
    """Bare sqlite3 with recon's pragmas, autocommit: the floors' connection."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=10)
    for pragma in (
        "journal_mode=WAL",
        "foreign_keys=ON",
        "busy_timeout=10000",
        "synchronous=NORMAL",
    ):
        conn.execute(f"PRAGMA {pragma}")
    return conn


def digest(path: Path, sql: str) -> tuple[int, str]:
    """Row count and a digest of what `sql` reads: 'identical rows' in one comparable value."""
    hashed, count = hashlib.sha256(), 0
    conn = sqlite3.connect(path)
    try:
        for row in conn.execute(sql):
            hashed.update(repr(row).encode())
            count += 1
    finally:
        conn.close()
    return count, hashed.hexdigest()


# --- databases by URL: sqlite:///PATH or postgresql://… -------------------------------------


def sqlite_path(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def rows_of(url: str, sql: str) -> list[tuple[Any, ...]]:
    """What `sql` reads (nothing for a statement that reads nothing), through bare sqlite3 or
    psycopg, committed."""
    path = sqlite_path(url)
    if path is not None:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            return conn.execute(sql).fetchall()
    import psycopg

    with psycopg.connect(url) as pg:
        found = pg.execute(sql)
        return found.fetchall() if found.description else []


def fresh_postgres(server: str, name: str, template: str | None = None) -> str:
    """An empty database `name` on the server of `server` (dropped first if there), or a copy
    of the database `template`; its postgresql:// URL."""
    import psycopg

    with psycopg.connect(server, autocommit=True) as pg:
        pg.execute(f'DROP DATABASE IF EXISTS "{name}"')
        copy = f' TEMPLATE "{template}"' if template else ""
        pg.execute(f'CREATE DATABASE "{name}"{copy}')
    return urlsplit(server)._replace(path=f"/{name}").geturl()


def drop_postgres(server: str, *names: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as pg:
        for name in names:
            pg.execute(f'DROP DATABASE IF EXISTS "{name}"')


def copy_database(url: str, name: str, server: str) -> str:
    """A copy of the closed database at `url` named `name` (a file beside it, or a PostgreSQL
    database made from it as a template); its URL."""
    path = sqlite_path(url)
    if path is None:
        return fresh_postgres(server, name, template=urlsplit(url).path.lstrip("/"))
    target = path.with_name(f"{name}.db")
    remove_sqlite(target)
    for suffix in ("", "-wal"):
        if Path(f"{path}{suffix}").exists():
            shutil.copyfile(f"{path}{suffix}", f"{target}{suffix}")
    return f"sqlite:///{target}"


# --- the storage floor: the rows recon stored, written back bare -----------------------------


@dataclass(frozen=True)
class Phase:
    """The writes of one recon step: its tables in foreign-key order, whether recon loads them
    with their secondary indexes held back (dropped, then built again: `recon.db.bulk`, SQLite
    only), and SQL that ends the step's writes."""

    name: str
    tables: tuple[str, ...]
    held: bool = False
    then: str = ""


class Stopwatch:
    """Wall time summed over `with watch:` blocks: a floor's writes, not its reads."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, *_: object) -> None:
        self.seconds += time.perf_counter() - self._started


def _columns(table: str, select_as: Mapping[str, str]) -> tuple[int, str, str]:
    """A table's columns (recon's models): how many, their names, and what reads them."""
    from recon.db.models import Base

    names = [column.name for column in Base.metadata.tables[table].columns]
    read = (select_as.get(f"{table}.{name}", f'"{name}"') for name in names)
    return len(names), ", ".join(f'"{name}"' for name in names), ", ".join(read)


def storage_floor(
    source: str, target: str, phases: Sequence[Phase], select_as: Mapping[str, str], work: Path
) -> dict[str, float]:
    """Seconds per phase to write back every row recon stored in `source` into `target`, a
    fresh database with recon's schema, one transaction a phase; the rows are read from
    `source` off the clock. SQLite: bare sqlite3 with recon's pragmas, recon's own 500-row
    INSERTs, the held tables' indexes dropped and rebuilt, the connection's close (its
    checkpoint) included. PostgreSQL: each table copied out of `source` in COPY's binary
    format into a file, then loaded with one COPY FROM STDIN through psycopg, the cheapest bulk
    write PostgreSQL offers (recon itself writes with executemany). `select_as` replaces a
    column's value as read ("statement_lines.matched": "false": the runs mark them). Exits if
    a table's row count differs between the two."""
    seconds = {}
    for phase in phases:
        write = _sqlite_phase if sqlite_path(source) else _postgres_phase
        seconds[phase.name] = write(source, target, phase, select_as, work)
        for table in phase.tables:
            count = f'SELECT count(*) FROM "{table}"'
            read, written = rows_of(source, count), rows_of(target, count)
            if read != written:
                raise SystemExit(f"storage floor: {table}: {written} rows written, {read} read")
        log(f"storage floor: {phase.name} {seconds[phase.name]:.2f}s")
    return seconds


def _sqlite_phase(
    source: str, target: str, phase: Phase, select_as: Mapping[str, str], work: Path
) -> float:
    watch = Stopwatch()
    src = sqlite3.connect(f"file:{sqlite_path(source)}?mode=ro", uri=True)
    with watch:
        conn = bare(sqlite_path(target))
        conn.execute("BEGIN IMMEDIATE")
        held = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            f" AND tbl_name IN ({', '.join('?' * len(phase.tables))}) AND ? ORDER BY rowid",
            (*phase.tables, phase.held),
        ).fetchall()
        for name, _ in held:
            conn.execute(f'DROP INDEX "{name}"')
    for table in phase.tables:
        count, names, read = _columns(table, select_as)
        rows = src.execute(f'SELECT {read} FROM "{table}"')
        one = "(" + ", ".join("?" * count) + ")"
        while part := rows.fetchmany(500):  # recon.db.bulk.SQLITE_ROWS_PER_INSERT
            values = tuple(itertools.chain.from_iterable(part))
            sql = f'INSERT INTO "{table}" ({names}) VALUES {", ".join([one] * len(part))}'
            with watch:
                conn.execute(sql, values)
    with watch:
        for _, sql in held:
            conn.execute(sql)
        if phase.then:
            conn.execute(phase.then)
        conn.execute("COMMIT")
        conn.close()
    src.close()
    return watch.seconds


def _postgres_phase(
    source: str, target: str, phase: Phase, select_as: Mapping[str, str], work: Path
) -> float:
    import psycopg

    dumps = []
    with psycopg.connect(source) as src:
        for table in phase.tables:
            _, names, read = _columns(table, select_as)
            dumps.append((f'COPY "{table}" ({names}) FROM STDIN (FORMAT binary)', work / table))
            dump = f'COPY (SELECT {read} FROM "{table}") TO STDOUT (FORMAT binary)'
            with dumps[-1][1].open("wb") as f, src.cursor().copy(dump) as out:
                for block in out:
                    f.write(block)
    watch = Stopwatch()
    with watch, psycopg.connect(target) as conn:  # one transaction, committed on exit
        for load, path in dumps:
            with path.open("rb") as f, conn.cursor().copy(load) as into:
                while block := f.read(MIB):
                    into.write(block)
        if phase.then:
            conn.execute(phase.then)
    for _, path in dumps:
        path.unlink()
    return watch.seconds


# --- reporting ---------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "load": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def report(
    title: str, rows: list[tuple[str, ...]], notes: list[str], figures: dict[str, Any]
) -> None:
    """The table (first row the header), the verdicts, then one JSON line with every figure."""
    figures = {**figures, **machine()}
    print(
        f"{title} (load {figures['load']}, {figures['cpus']} CPUs, Python {figures['python']}, "
        f"SQLite {figures['sqlite']})"
    )
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    for row in rows:
        cells = (
            cell.ljust(w) if c == 0 else cell.rjust(w)
            for c, (cell, w) in enumerate(zip(row, widths, strict=False))
        )
        print("  ".join(cells).rstrip())
    for note in notes:
        print(note)
    print(json.dumps(figures, ensure_ascii=False))


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"
