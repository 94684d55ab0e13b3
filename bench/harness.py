"""What every bench shares: a fresh interpreter per measured step, its time, CPU and peak RSS;
fresh and bare SQLite databases; medians; a table and one JSON line.

Peak RSS on Linux: a spawned child's `ru_maxrss` starts at its parent's high-water mark (exec
folds the old address space's peak into it), so a bench holding its generated rows would hide
the child's growth. `PeakRss` instead resets the process's own peak (`VmHWM`) to its current
RSS (`/proc/self/clear_refs`, "5") and reads it back. A CLI process is started by a small
wrapper interpreter (`-S`), so its `ru_maxrss` from `wait4` is its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import platform
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

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


def fresh_sqlite(path: Path) -> str:
    """A freshly migrated SQLite database at `path`; its URL as recon's settings make it."""
    from recon.db.migrate import upgrade
    from recon.settings import load_settings

    remove_sqlite(path)
    url = load_settings({"RECON_DATABASE_URL": f"sqlite:///{path}"}).database_url
    asyncio.run(upgrade(url))
    return url


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
