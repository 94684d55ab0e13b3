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
import math
import os
import platform
import random
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
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


# --- HTTP load: a raw keep-alive HTTP/1.1 client in a process of its own ---------------------
#
# httpx spends more CPU per request than a small server does, so it cannot saturate one. This
# client is asyncio protocols and pre-built request bytes: each connection sends a request,
# reads the status line, the headers and a Content-Length (or chunked) body, and sends the next
# at once; one request in flight per connection, no pipelining. It runs in a spawned process
# (`LoadGenerator`), so the server and the generator each get a core of their own.


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` now (the server binds it next)."""
    with contextlib.closing(socket.socket()) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def http_get(
    url: str, headers: Mapping[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request through urllib, off the clock: (status, headers lower-cased, body); an HTTP
    error status is returned, not raised."""
    request = urllib.request.Request(url, headers=dict(headers or {}))
    return _answer_of(request)


def http_post(
    url: str, body: bytes, headers: Mapping[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, headers=dict(headers or {}), method="POST")
    return _answer_of(request)


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def _answer_of(request: urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
    try:
        with _DIRECT.open(request, timeout=30) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120.0) -> float:
    """Seconds until `url` answers 200; exits if `process` (the server) ends or time runs out."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise SystemExit(f"the server exited {process.returncode} before {url} answered")
        with contextlib.suppress(OSError):
            if http_get(url)[0] == 200:
                return time.perf_counter() - started
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer 200 within {timeout:g}s")


def serve_recon(env: dict[str, str], work: Path, host: str, port: int) -> subprocess.Popen[bytes]:
    """`recon serve --no-scheduler` on host:port (stdout and stderr in `work`), once its
    /readyz answers 200; exits with its stderr's tail if it never does."""
    command = [str(RECON), "serve", "--no-scheduler", "--host", host, "--port", str(port)]
    with (work / "serve.out").open("wb") as out, (work / "serve.err").open("wb") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=work)
    try:
        log(f"server ready in {wait_ready(f'http://{host}:{port}/readyz', process):.1f}s")
    except SystemExit as exc:
        stop_process(process)
        tail = (work / "serve.err").read_text(errors="replace")[-2000:]
        raise SystemExit(f"{exc}\n{tail}") from None
    return process


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a graceful stop), then SIGKILL after 30 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (Linux: /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


@dataclass(frozen=True)
class LoadJob:
    """`connections` keep-alive connections to host:port, each sending one of `requests`
    (complete HTTP/1.1 requests, picked at random) after the other; the first `warmup` seconds
    are not recorded, then `seconds` are (a `LoadGenerator.stop()` ends them earlier)."""

    port: int
    requests: tuple[bytes, ...]
    connections: int
    seconds: float
    warmup: float = 0.0
    host: str = "127.0.0.1"
    grace: float = 10.0  # after the window, how long requests in flight may still finish


@dataclass
class LoadResult:
    """The recorded window: requests started in it, their latencies (seconds, every answer,
    error statuses included), how many answered 2xx or 304, and the errors by kind."""

    seconds: float
    latencies: list[float]
    ok: int
    errors: dict[str, int]
    cpu: float = 0.0  # the generator's own CPU seconds over the window: near `seconds`, it was
    # the bottleneck

    @property
    def requests(self) -> int:
        return self.ok + sum(self.errors.values())

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile_ms(self, p: float) -> float:
        """The p-th percentile latency (nearest rank), in milliseconds."""
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        rank = min(len(ordered), max(1, math.ceil(len(ordered) * p / 100)))
        return 1000 * ordered[rank - 1]


class LoadGenerator:
    """The load client in a spawned process, started once (its imports done before any
    clock) and given one `LoadJob` after another: `run(job)`, or `start(job)`, `stop()`,
    `result()` to end a window early."""

    def __enter__(self) -> LoadGenerator:
        context = get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_load_process, args=(child,), daemon=True)
        self._process.start()
        if self._pipe.recv() != "ready":
            raise SystemExit("the load generator did not start")
        return self

    def __exit__(self, *_: object) -> None:
        with contextlib.suppress(OSError):
            self._pipe.send(None)
        self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()

    def start(self, job: LoadJob) -> None:
        self._pipe.send(job)

    def stop(self) -> None:
        """End the window now (ignored when it has already ended)."""
        self._pipe.send("stop")

    def result(self) -> LoadResult:
        found = self._pipe.recv()
        if isinstance(found, str):
            raise SystemExit(f"the load generator failed: {found}")
        return found  # type: ignore[no-any-return]

    def ready(self, timeout: float) -> bool:
        """Whether the window's result is there to read, waiting at most `timeout` seconds."""
        return bool(self._pipe.poll(timeout))

    def run(self, job: LoadJob) -> LoadResult:
        self.start(job)
        return self.result()


def _load_process(pipe: Any) -> None:
    pipe.send("ready")
    while (job := pipe.recv()) is not None:
        if isinstance(job, LoadJob):  # a late "stop" finds no window to end
            try:
                pipe.send(asyncio.run(_load(job, pipe)))
            except Exception as exc:  # reported to the bench, which exits with it
                pipe.send(f"{type(exc).__name__}: {exc}")


class _Window:
    """One job's state, shared by its connections."""

    def __init__(self, job: LoadJob) -> None:
        self.job = job
        self.pick = random.Random(job.port).choice
        self.record_from = self.stop_at = float("inf")
        self.latencies: list[float] = []
        self.ok = 0
        self.errors: dict[str, int] = {}
        self.in_flight = 0
        self.clients: set[_Client] = set()
        self.finished = asyncio.get_running_loop().create_future()

    def recorded(self, started: float) -> bool:
        return self.record_from <= started < self.stop_at

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def settle(self) -> None:
        ended = self.in_flight == 0 and time.perf_counter() >= self.stop_at
        if ended and not self.finished.done():
            self.finished.set_result(None)


class _Client(asyncio.Protocol):
    """One keep-alive connection: a request, its whole answer, the next request."""

    def __init__(self, window: _Window) -> None:
        self.window = window
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.started = 0.0
        self.busy = False
        self.need = -1  # bytes of the whole answer once its head is read; -2: chunked
        self.status = 0
        self.close_after = False
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.window.clients.add(self)
        self.send()

    def send(self) -> None:
        if time.perf_counter() >= self.window.stop_at:
            assert self.transport is not None
            self.transport.close()
            return
        self.buffer.clear()
        self.need, self.busy = -1, True
        self.window.in_flight += 1
        self.started = time.perf_counter()
        assert self.transport is not None
        self.transport.write(self.window.pick(self.window.job.requests))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.need == -1:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            self.status = int(head[9:12])
            self.close_after = b"\r\nconnection: close" in head
            if self.status in (204, 304) or 100 <= self.status < 200:
                self.need = end + 4
            elif b"\r\ntransfer-encoding: chunked" in head:
                self.need = -2
            else:
                at = head.find(b"\r\ncontent-length:")
                if at < 0:
                    self.fail("answer without Content-Length")
                    return
                self.need = end + 4 + int(head[at + 17 : head.find(b"\r\n", at + 2)])
        if self.need == -2:
            if not self.buffer.endswith(b"\r\n0\r\n\r\n"):
                return
        elif len(self.buffer) < self.need:
            return
        self.done()

    def done(self) -> None:
        window, finished = self.window, time.perf_counter()
        self.busy = False
        window.in_flight -= 1
        if window.recorded(self.started):
            window.latencies.append(finished - self.started)
            if 200 <= self.status < 300 or self.status == 304:
                window.ok += 1
            else:
                window.error(f"HTTP {self.status}")
        window.settle()
        if self.close_after:
            assert self.transport is not None
            self.transport.close()
        else:
            self.send()

    def fail(self, kind: str) -> None:
        if self.busy:
            self.busy = False
            self.window.in_flight -= 1
            if self.window.recorded(self.started):
                self.window.error(kind)
            self.window.settle()
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.window.clients.discard(self)
        self.fail(f"connection lost: {type(exc).__name__ if exc else 'closed by the server'}")
        if not self.lost.done():
            self.lost.set_result(None)


async def _connection(window: _Window) -> None:
    """One connection slot: connect, serve requests until the window ends, reconnect if the
    connection is lost before."""
    loop = asyncio.get_running_loop()
    job = window.job
    while time.perf_counter() < window.stop_at:
        try:
            _, client = await loop.create_connection(lambda: _Client(window), job.host, job.port)
        except OSError as exc:
            if window.recorded(time.perf_counter()):
                window.error(f"connect: {type(exc).__name__}")
            await asyncio.sleep(0.05)
            continue
        await client.lost


async def _load(job: LoadJob, pipe: Any) -> LoadResult:
    loop = asyncio.get_running_loop()
    window = _Window(job)
    started = time.perf_counter()
    window.record_from = started + job.warmup
    window.stop_at = window.record_from + job.seconds

    def stop_now() -> None:
        if pipe.poll() and pipe.recv() == "stop":
            window.stop_at = min(window.stop_at, time.perf_counter())
            window.settle()

    loop.add_reader(pipe.fileno(), stop_now)
    slots = [asyncio.create_task(_connection(window)) for _ in range(job.connections)]
    try:
        await asyncio.sleep(max(0.0, window.record_from - time.perf_counter()))
        cpu = _cpu()
        while True:
            await asyncio.sleep(min(0.05, max(0.0, window.stop_at - time.perf_counter())))
            if time.perf_counter() >= window.stop_at:
                break
        cpu = _cpu() - cpu
        window.settle()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(window.finished), job.grace)
        if window.in_flight:
            window.error("no answer within the grace after the window")
    finally:
        loop.remove_reader(pipe.fileno())
        for slot in slots:
            slot.cancel()
        for client in list(window.clients):
            if client.transport is not None:
                client.transport.close()
        await asyncio.gather(*slots, return_exceptions=True)
    seconds = max(0.0, min(window.stop_at, time.perf_counter()) - window.record_from)
    return LoadResult(seconds, window.latencies, window.ok, window.errors, cpu)
