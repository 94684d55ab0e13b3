"""The scheduler as real processes (DESIGN 7, and 8 "Scheduling" and "Time"), against the channel
simulators, on SQLite and PostgreSQL.

- Two `recon scheduler` processes on one PostgreSQL database run each due day exactly once, and
  leave the cases a single process leaves; two runs of adjacent days judged at the same moment
  (lined up by a table lock) both succeed.
- `recon serve` catches the window up at start (trigger `catch_up`); `--no-scheduler` runs
  nothing.
- A scheduler killed (SIGKILL) mid-run leaves its run `running` and its day's lease held; once
  that lease has expired, the next scheduler marks the dead run `abandoned` and completes the day.
- A scheduler stopped (SIGTERM) mid-run exits 0 at once: its run `abandoned`, its lease
  released, nothing of its judgement written.

Each outcome is compared with a reference: a fresh database of the same kind where one
`recon reconcile --from --to` process ran the same days.

The due window is read from the real clock: `nightly_at = "00:00"` makes the last due day
yesterday (local) whatever the time of day, and `lookback_days = 3` makes it three days; the
simulators' ward covers them. A run is made slow, so that a signal finds it mid-pull, by the
simulators' `delay` fault on MoMo.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine, create_engine, func, make_url, select, text, update
from sqlalchemy.pool import NullPool

from fixtures.simulators.server import SimulatorSet, run_simulators
from recon.db.migrate import upgrade
from recon.db.models import Case, CaseEvent, ChannelDay, Match, Run, RunLease
from recon.runs.lease import LEASE_TTL
from recon.schedule.due import due_window
from tests.conftest import POSTGRES_URL, SKIP_POSTGRES, _truncate_postgres, sync_url

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
RECON = [sys.executable, "-m", "recon.cli"]
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NIGHTLY_AT = clock_time(0, 0)  # every local moment has passed it: the last due day is yesterday
LOOKBACK_DAYS = 3
SCHEDULE_TOML = f"""[schedule]
nightly_at = "{NIGHTLY_AT:%H:%M}"
lookback_days = {LOOKBACK_DAYS}
retry_every = "10s"

"""
HOST_TZ = "America/Los_Angeles"
SLOW_PULL = {"type": "delay", "seconds": 4}  # each MoMo request: a run is mid-pull for 4 s
CATCH_UP_TIMEOUT = 60.0


def current_window() -> list[date]:
    return due_window(datetime.now(TZ), NIGHTLY_AT, TZ, LOOKBACK_DAYS)


@pytest.fixture(scope="module")
def sims() -> Iterator[SimulatorSet]:
    """A small ward over the real due window (and a few days before it, for the lines that
    settle late), served by in-thread simulators."""
    window = current_window()
    with run_simulators(
        start=window[0] - timedelta(days=3), end=window[-1], seed=31, dossiers_per_day=8
    ) as running:
        yield running


@pytest.fixture
def window(sims: SimulatorSet) -> Iterator[list[date]]:
    """The due days this test expects the scheduler to run; a test that would straddle local
    midnight (the window moves by a day) is skipped rather than left to race the clock."""
    now = datetime.now(TZ)
    if (now + timedelta(minutes=3)).date() != now.date():
        pytest.skip("less than 3 minutes to local midnight: the due window would move mid-test")
    days = current_window()
    sims.reset()
    yield days
    sims.reset()


# --- processes ----------------------------------------------------------------------------


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def send(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """SIGTERM (or `signum`) and the exit status."""
        if self.popen.poll() is None:
            self.popen.send_signal(signum)
        return self.popen.wait(timeout)


class Processes:
    """The processes a test started: every one still alive at its end is killed (by its pid)."""

    def __init__(self) -> None:
        self.started: list[Process] = []

    def add(self, process: Process) -> Process:
        self.started.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.log()[-4000:]}" for p in self.started)

    def cleanup(self) -> None:
        for process in self.started:
            if process.popen.poll() is None:
                process.popen.kill()
                process.popen.wait(10)
            if process.popen.stdout is not None:
                process.popen.stdout.close()


@pytest.fixture
def processes() -> Iterator[Processes]:
    started = Processes()
    try:
        yield started
    finally:
        started.cleanup()


# --- a deployment: a database, a configuration, the ward's dossiers -------------------------


@dataclass
class Deployment:
    url: str  # what recon is given (RECON_DATABASE_URL)
    home: Path
    env: dict[str, str]
    processes: Processes
    engine: Engine = field(init=False)

    def __post_init__(self) -> None:
        self.engine = create_engine(sync_url(self.url), poolclass=NullPool)

    def recon(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*RECON, *args],
            cwd=self.home,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def recon_json(self, *args: str) -> Any:
        done = self.recon(*args)
        assert done.returncode == 0, (args, done.returncode, done.stderr)
        return json.loads(done.stdout)

    def spawn(self, name: str, *args: str, stdout: bool = False) -> Process:
        log_path = self.home / f"{name}.log"
        with log_path.open("w", encoding="utf-8") as log:
            popen = subprocess.Popen(
                [*RECON, *args],
                cwd=self.home,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
                stderr=log,
                text=True,
            )
        return self.processes.add(Process(name, popen, log_path))

    def scheduler(self, name: str) -> Process:
        return self.spawn(name, "scheduler")

    # reading the database directly: cheap enough to poll

    def runs(self) -> list[Any]:
        """The runs' rows, oldest first."""
        with self.engine.connect() as connection:
            return list(connection.execute(select(Run).order_by(Run.id)).all())

    def leases(self) -> list[Any]:
        with self.engine.connect() as connection:
            return list(connection.execute(select(RunLease)).all())

    def waiting_for(self, table: str) -> int:
        """PostgreSQL: how many sessions wait for a lock on `table`."""
        query = text(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
            " WHERE c.relname = :table AND NOT l.granted"
        )
        with self.engine.connect() as connection:
            return int(connection.execute(query, {"table": table}).scalar_one())

    def count(self, query: Any) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    # reading through the command line, as an operator would

    def runs_listed(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = self.recon_json("runs", "list", "--limit", "500", "--json")
        return listed

    def cases(self) -> list[tuple[Any, ...]]:
        """Every case, by what it says (type, status, day, channel, dossier, amounts, lines,
        explanation), not by its id; sorted."""
        listed = self.recon_json("cases", "list", "--status", "all", "--json")
        return sorted(
            (
                c["type"],
                c["status"],
                c["date"],
                c["channel"],
                c["dossier_code"] or "",
                c["expected_amount"] if c["expected_amount"] is not None else -1,
                c["actual_amount"] if c["actual_amount"] is not None else -1,
                tuple(sorted(c["channel_txn_ids"])),
                c["explanation"],
            )
            for c in listed
        )

    def ledger(self, days: list[date]) -> Any:
        return self.recon_json(
            "ledger",
            "--from",
            days[0].isoformat(),
            "--to",
            days[-1].isoformat(),
            "--format",
            "json",
        )

    def dispose(self) -> None:
        self.engine.dispose()


def deploy(url: str, home: Path, sims: SimulatorSet, processes: Processes) -> Deployment:
    """A configuration naming the simulators (with the test's schedule), and the ward's
    dossiers imported into the (fresh, migrated) database at `url`."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "recon.toml"
    config.write_text(SCHEDULE_TOML + sims.recon_config_toml(), encoding="utf-8")
    env = {
        **os.environ,
        "RECON_DATABASE_URL": url,
        "RECON_CONFIG": str(config),
        "PYTHONPATH": str(ROOT),
        # the host's zone must not matter (DESIGN 8 "Time"): one 14 to 15 hours from the
        # ward's, so that for most of the day its "yesterday" is another date
        "TZ": HOST_TZ,
        **sims.recon_env(),
    }
    deployment = Deployment(url, home, env, processes)
    ward = home / "ward.json"
    ward.write_text(json.dumps(sims.ward.dossiers, default=str, ensure_ascii=False), "utf-8")
    summary = deployment.recon_json("dossiers", "import", str(ward), "--json")
    assert summary["rejected"] == [], summary
    assert summary["inserted"] == len(sims.ward.dossiers), summary
    return deployment


def kind_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


class FreshDatabases:
    """Fresh migrated databases beside the test's own: SQLite files copied from the migrated
    template, PostgreSQL databases created beside RECON_TEST_POSTGRES_URL's (dropped at the
    end)."""

    def __init__(self, sqlite_template: Path, where: Path) -> None:
        self.sqlite_template, self.where = sqlite_template, where
        self.made: list[str] = []

    def make(self, kind: str) -> str:
        name = f"recon_sched_{os.getpid()}_{secrets.token_hex(3)}"
        if kind == "sqlite":
            path = self.where / f"{name}.db"
            shutil.copyfile(self.sqlite_template, path)
            return f"sqlite+aiosqlite:///{path}"
        if not POSTGRES_URL:
            pytest.skip(SKIP_POSTGRES)
        base = make_url(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
        admin = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        self.made.append(name)
        url = base.set(database=name).render_as_string(hide_password=False)
        url = url.replace("+psycopg", "+asyncpg")
        asyncio.run(upgrade(url))
        return url

    def drop_all(self) -> None:
        if not self.made:
            return
        base = make_url(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
        admin = create_engine(base, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with admin.connect() as connection:
            for name in self.made:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass(frozen=True)
class Reference:
    cases: list[tuple[Any, ...]]
    ledger: Any


@pytest.fixture(scope="module")
def reference(
    sims: SimulatorSet, sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str, list[date]], Reference]]:
    """The cases and the ledger one `recon reconcile --from --to` process leaves on a fresh
    database of the kind asked for, after running `days`: computed once per kind and window."""
    where = tmp_path_factory.mktemp("reference")
    databases = FreshDatabases(sqlite_template, where)
    made: dict[tuple[str, tuple[date, ...]], Reference] = {}
    processes = Processes()

    def of(kind: str, days: list[date]) -> Reference:
        key = (kind, tuple(days))
        if key not in made:
            saved = [(s, list(s.faults.active())) for s in sims.sims.values()]
            sims.reset()  # the reference runs against healthy channels
            try:
                home = where / f"{kind}-{len(made)}"
                ref = deploy(databases.make(kind), home, sims, processes)
                done = ref.recon(
                    "reconcile",
                    "--from",
                    days[0].isoformat(),
                    "--to",
                    days[-1].isoformat(),
                    "--json",
                )
                assert done.returncode == 0, done.stderr
                assert [r["status"] for r in json.loads(done.stdout)] == ["succeeded"] * len(days)
                made[key] = Reference(ref.cases(), ref.ledger(days))
                ref.dispose()
            finally:
                for sim, faults in saved:
                    for fault in faults:
                        sim.faults.add(fault)
        return made[key]

    try:
        yield of
    finally:
        processes.cleanup()
        databases.drop_all()


@pytest.fixture
def deployment(
    database_url: str, tmp_path: Path, sims: SimulatorSet, window: list[date], processes: Processes
) -> Iterator[Deployment]:
    """The ward on the test's clean database (SQLite or PostgreSQL)."""
    deployed = deploy(database_url, tmp_path / "deployment", sims, processes)
    yield deployed
    processes.cleanup()  # before the database goes: nothing may write to it afterwards
    deployed.dispose()


# --- waiting ------------------------------------------------------------------------------


def wait_until(
    check: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    processes: Processes,
    alive: tuple[Process, ...] = (),
) -> None:
    """Poll `check` until it holds; fail with every process's log on a timeout, or as soon as
    one of the `alive` processes has exited."""
    deadline = time.monotonic() + timeout
    while not check():
        exited = [(p.name, p.popen.returncode) for p in alive if p.popen.poll() is not None]
        if exited:
            pytest.fail(f"while waiting for {what}, {exited} exited\n{processes.logs()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{processes.logs()}")
        time.sleep(0.2)


def succeeded_days(runs: list[Any]) -> Counter[date]:
    return Counter(r.business_day for r in runs if r.status == "succeeded")


def each_day_succeeded(deployment: Deployment, days: list[date]) -> Callable[[], bool]:
    return lambda: set(days) <= set(succeeded_days(deployment.runs()))


def mid_momo_pull(deployment: Deployment, sims: SimulatorSet) -> Callable[[], bool]:
    """A run is `running` and has asked MoMo for its statement (which the delay holds back)."""
    return lambda: sims.momo.requests > 0 and any(r.status == "running" for r in deployment.runs())


def scheduler_mid_pull(deployment: Deployment, sims: SimulatorSet, name: str) -> Process:
    """A scheduler whose first run is held mid-pull (MoMo answers slowly), once it is there."""
    sims.momo.faults.add(SLOW_PULL)
    scheduler = deployment.scheduler(name)
    wait_until(
        mid_momo_pull(deployment, sims),
        timeout=30,
        what="a run mid-pull",
        processes=deployment.processes,
        alive=(scheduler,),
    )
    return scheduler


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def pulled_days(log: str) -> set[date]:
    """The days a process pulled a channel for, from its log (`pulled momo 2026-12-03: …`)."""
    return {date.fromisoformat(d) for d in re.findall(r"pulled \w+ (\d{4}-\d\d-\d\d):", log)}


# --- 1. two schedulers, one database ------------------------------------------------------


@pytest.mark.postgres
def test_two_schedulers_on_one_database_run_each_due_day_once(
    postgres_url: str,
    tmp_path: Path,
    sims: SimulatorSet,
    window: list[date],
    processes: Processes,
    reference: Callable[[str, list[date]], Reference],
) -> None:
    expected = reference("postgresql", window)
    _truncate_postgres(postgres_url)
    shared = deploy(postgres_url, tmp_path / "shared", sims, processes)
    # every MoMo request takes a second: each run lasts long enough for the two processes to
    # meet on its day (the second is refused the lease and leaves the rest to the first)
    sims.momo.faults.add({"type": "delay", "seconds": 1})
    first, second = shared.scheduler("scheduler-a"), shared.scheduler("scheduler-b")
    wait_until(
        each_day_succeeded(shared, window),
        timeout=CATCH_UP_TIMEOUT,
        what="a succeeded run of each due day",
        processes=processes,
        alive=(first, second),
    )
    assert first.stop(signal.SIGTERM) == 0, first.log()
    assert second.stop(signal.SIGINT) == 0, second.log()  # Ctrl-C stops it as cleanly

    runs = shared.runs()
    assert succeeded_days(runs) == Counter(window), processes.logs()
    assert [r for r in runs if r.status != "succeeded"] == [], processes.logs()
    assert {r.trigger for r in runs} == {"catch_up"}
    assert shared.leases() == []
    # each day in one process only (its pulls are logged before its judgement commits), and
    # one found a day's lease held and left it, and the days after it, quietly to the other
    # (which judges them oldest first, as one process would)
    pulled = {p.name: pulled_days(p.log()) for p in (first, second)}
    assert pulled["scheduler-a"] | pulled["scheduler-b"] == set(window), pulled
    assert not pulled["scheduler-a"] & pulled["scheduler-b"], pulled
    assert any("skipped, and the days after it" in p.log() for p in (first, second)), (
        processes.logs()
    )
    assert all(" ERROR " not in p.log() and "Traceback" not in p.log() for p in (first, second))

    assert shared.cases() == expected.cases
    assert shared.ledger(window) == expected.ledger
    shared.dispose()


@pytest.mark.postgres
def test_runs_of_adjacent_days_judged_at_the_same_moment_both_succeed(
    postgres_url: str,
    tmp_path: Path,
    sims: SimulatorSet,
    window: list[date],
    processes: Processes,
) -> None:
    """What the test above meets by chance (one run in a few): each day has its own lease, so
    two processes judge two days at once, and the run of D also judges lines of D-1 (the
    payment a refund of D points at, the dossiers both days touch). Here the two judgements
    are lined up: a lock on `matches` holds both runs at their first write, once both have
    loaded what they judge. Then neither may fail because of the other. (If judgement is
    serialised, only one of them waits here; it is let go after a few seconds.)"""
    _truncate_postgres(postgres_url)
    shared = deploy(postgres_url, tmp_path / "shared", sims, processes)
    days = window[:2]
    # both days' statements stored first, so that each run finds the other day's lines
    # whatever the order its pulls end in (its own pulls then only meet duplicates)
    pulls = [
        shared.spawn(
            f"pull-{channel}-{day}",
            "statements",
            "pull",
            "--channel",
            channel,
            "--date",
            day.isoformat(),
        )
        for day in days
        for channel in ("bank", "momo", "portal")
    ]
    assert [pull.wait(60) for pull in pulls] == [0] * len(pulls), processes.logs()
    with shared.engine.connect() as locker:
        locker.execute(text("LOCK TABLE matches IN SHARE ROW EXCLUSIVE MODE"))
        runs = [
            shared.spawn(f"reconcile-{day}", "reconcile", "--date", day.isoformat(), "--json")
            for day in days
        ]
        first_waiter = None
        deadline = time.monotonic() + 30
        while (waiting := shared.waiting_for("matches")) < len(days):
            if waiting and first_waiter is None:
                first_waiter = time.monotonic()
            if first_waiter is not None and time.monotonic() - first_waiter > 3:
                break  # the other run waits for this one elsewhere: judgement is serialised
            if time.monotonic() > deadline:
                pytest.fail(f"no run reached its judgement\n{processes.logs()}")
            time.sleep(0.05)
        locker.commit()
    statuses = [run.wait(60) for run in runs]
    stored = sorted(shared.runs(), key=lambda r: r.business_day)
    assert [(r.business_day, r.status) for r in stored] == [(d, "succeeded") for d in days], (
        [(r.business_day, r.status, r.error) for r in stored],
        statuses,
    )
    assert statuses == [0, 0], processes.logs()
    assert shared.leases() == []
    shared.dispose()


# --- 2. `recon serve` -----------------------------------------------------------------------


def serve(deployment: Deployment, *flags: str) -> tuple[Process, str]:
    port = free_port()
    server = deployment.spawn("serve", "serve", "--port", str(port), *flags, stdout=True)
    assert server.popen.stdout is not None
    announced = server.popen.stdout.readline()
    assert announced.startswith(f"recon is serving at http://127.0.0.1:{port}/"), (
        announced,
        server.log(),
    )
    base = f"http://127.0.0.1:{port}"
    wait_until(
        lambda: _ready(base),
        timeout=30,
        what="/readyz",
        processes=deployment.processes,
        alive=(server,),
    )
    return server, base


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def stopped_cleanly(server: Process) -> bool:
    """SIGTERM ends `recon serve` after a graceful shutdown (the lifespan's end runs), with
    status 0 as `recon scheduler` (uvicorn alone would raise the signal again: 143)."""
    status = server.stop()
    log = server.log()
    assert status == 0, (status, log)
    assert "Traceback" not in log, log
    assert " ERROR " not in log, log
    return True


def api_key(deployment: Deployment) -> str:
    made = deployment.recon_json(
        "apikeys", "create", "--name", "t", "--scope", "runs:read", "--json"
    )
    assert made["scopes"] == ["runs:read"]
    key: str = made["key"]
    return key


def runs_api(base: str, key: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{base}/api/v1/runs",
        params={"limit": 500},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    runs: list[dict[str, Any]] = answer.json()
    return runs


def test_serve_catches_the_window_up_at_start(
    deployment: Deployment,
    window: list[date],
    reference: Callable[[str, list[date]], Reference],
) -> None:
    key = api_key(deployment)
    server, base = serve(deployment)

    def caught_up() -> bool:
        done = {
            r["date"]
            for r in runs_api(base, key)
            if r["status"] == "succeeded" and r["trigger"] == "catch_up"
        }
        return {d.isoformat() for d in window} <= done

    wait_until(
        caught_up,
        timeout=CATCH_UP_TIMEOUT,
        what="the catch-up runs over the API",
        processes=deployment.processes,
        alive=(server,),
    )
    runs = runs_api(base, key)
    assert sorted((r["date"], r["status"], r["trigger"]) for r in runs) == [
        (d.isoformat(), "succeeded", "catch_up") for d in window
    ]
    assert all(r["finished_at"] is not None and r["error"] is None for r in runs)
    started = time.monotonic()
    assert stopped_cleanly(server)
    assert time.monotonic() - started < 10
    assert "scheduler stopped" in server.log()  # the lifespan's end ran
    assert deployment.leases() == []
    assert deployment.cases() == reference(kind_of(deployment.url), window).cases


def test_serve_without_the_scheduler_runs_nothing(
    deployment: Deployment, window: list[date]
) -> None:
    key = api_key(deployment)
    server, base = serve(deployment, "--no-scheduler")
    time.sleep(3)  # the embedded catch-up would have started (and finished a day) by now
    assert runs_api(base, key) == []
    assert deployment.runs() == []
    assert stopped_cleanly(server)
    assert "scheduler started" not in server.log()
    assert deployment.runs() == []


# --- 3. SIGKILL mid-run ---------------------------------------------------------------------


def test_a_run_killed_mid_pull_is_abandoned_once_its_lease_expires_and_its_day_completed(
    deployment: Deployment,
    sims: SimulatorSet,
    window: list[date],
    processes: Processes,
    reference: Callable[[str, list[date]], Reference],
) -> None:
    expected = reference(kind_of(deployment.url), window)
    killed = scheduler_mid_pull(deployment, sims, "killed-scheduler")
    killed.send(signal.SIGKILL)
    assert killed.wait(10) == -signal.SIGKILL

    # the dead run stays `running`, and its day's lease stays held: nobody renews it, but it
    # lives LEASE_TTL (60 s) after its last renewal (tests/runs/test_lease.py covers the
    # expiry itself; this test does not wait a minute for it)
    [dead] = deployment.runs()
    assert (dead.business_day, dead.status, dead.finished_at) == (window[0], "running", None)
    [held] = deployment.leases()
    assert (held.business_day, held.run_id) == (window[0], dead.id)
    now = datetime.now(UTC)
    assert now < held.expires_at <= now + LEASE_TTL
    # meanwhile the day is refused to anyone else, and a refusal leaves no run
    refused = deployment.recon("reconcile", "--date", window[0].isoformat(), "--json")
    assert refused.returncode == 4, refused.stderr
    assert "is being reconciled by" in refused.stderr
    assert len(deployment.runs()) == 1

    # the lease expires (what LEASE_TTL without a renewal does), the channel is quick again
    with deployment.engine.begin() as connection:
        connection.execute(
            update(RunLease)
            .where(RunLease.business_day == window[0])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    sims.momo.faults.clear()

    successor = deployment.scheduler("successor")
    wait_until(
        each_day_succeeded(deployment, window),
        timeout=CATCH_UP_TIMEOUT,
        what="a succeeded run of each due day after the kill",
        processes=processes,
        alive=(successor,),
    )
    assert successor.stop() == 0, successor.log()

    listed = {r["run_id"]: r for r in deployment.runs_listed()}
    assert listed[dead.id]["status"] == "abandoned", listed[dead.id]
    assert listed[dead.id]["finished_at"] is not None
    assert listed[dead.id]["error"] == "its process stopped renewing its lease"
    assert Counter(r["status"] for r in listed.values()) == {
        "abandoned": 1,
        "succeeded": len(window),
    }
    assert succeeded_days(deployment.runs()) == Counter(window)
    assert deployment.leases() == []
    assert f"runs [{dead.id}] stopped renewing their leases: abandoned" in successor.log()
    assert deployment.cases() == expected.cases
    assert deployment.ledger(window) == expected.ledger


def test_a_killed_runs_day_is_free_again_within_about_a_minute_without_help(
    deployment: Deployment,
    sims: SimulatorSet,
    window: list[date],
    processes: Processes,
) -> None:
    """The same kill, and nothing touched: a scheduler started at once beside the dead run's
    lease skips the held day at start, and its retries (every 10 s here) take the day over as
    soon as the lease has expired, LEASE_TTL after the dead run's last renewal. Real time, so
    once (on SQLite): the day was locked for 10 minutes before the lease was made short."""
    if kind_of(deployment.url) != "sqlite":
        pytest.skip("a minute of real waiting is spent once, on SQLite")
    killed = scheduler_mid_pull(deployment, sims, "killed-scheduler")
    killed.send(signal.SIGKILL)
    killed_at = time.monotonic()
    assert killed.wait(10) == -signal.SIGKILL
    sims.momo.faults.clear()

    successor = deployment.scheduler("successor")
    wait_until(
        each_day_succeeded(deployment, window),
        timeout=LEASE_TTL.total_seconds() + 45,
        what="the dead run's day taken over and every due day succeeded",
        processes=processes,
        alive=(successor,),
    )
    freed_after = time.monotonic() - killed_at
    assert successor.stop() == 0, successor.log()
    assert freed_after <= LEASE_TTL.total_seconds() + 30, freed_after
    assert Counter(r.status for r in deployment.runs()) == {
        "abandoned": 1,
        "succeeded": len(window),
    }
    assert deployment.leases() == []


# --- 4. SIGTERM mid-run ---------------------------------------------------------------------


def test_a_run_stopped_mid_pull_is_abandoned_at_once_and_writes_nothing(
    deployment: Deployment,
    sims: SimulatorSet,
    window: list[date],
    processes: Processes,
    reference: Callable[[str, list[date]], Reference],
) -> None:
    expected = reference(kind_of(deployment.url), window)
    stopped = scheduler_mid_pull(deployment, sims, "stopped-scheduler")
    started = time.monotonic()
    stopped.send(signal.SIGTERM)
    assert stopped.wait(15) == 0, stopped.log()
    assert time.monotonic() - started < 3, "SIGTERM must not wait for the pull to end"

    [run] = deployment.runs()
    assert (run.business_day, run.status) == (window[0], "abandoned"), run
    assert run.finished_at is not None
    assert deployment.leases() == []  # released: the day is free at once
    # nothing of its judgement was written (the bank's lines it had pulled may stay: stored
    # lines are facts, and the next pull counts them as duplicates)
    assert deployment.count(select(func.count()).where(Match.run_id == run.id)) == 0
    assert deployment.count(select(func.count()).select_from(Case)) == 0
    assert deployment.count(select(func.count()).where(CaseEvent.run_id == run.id)) == 0
    assert deployment.count(select(func.count()).where(ChannelDay.reconciled_at.is_not(None))) == 0

    sims.momo.faults.clear()
    successor = deployment.scheduler("successor")
    wait_until(
        each_day_succeeded(deployment, window),
        timeout=CATCH_UP_TIMEOUT,
        what="a succeeded run of each due day after the stop",
        processes=processes,
        alive=(successor,),
    )
    assert successor.stop() == 0, successor.log()

    listed = {r["run_id"]: r for r in deployment.runs_listed()}
    assert listed[run.id]["status"] == "abandoned"
    assert listed[run.id]["error"] == "stopped before it finished"
    assert Counter(r["status"] for r in listed.values()) == {
        "abandoned": 1,
        "succeeded": len(window),
    }
    assert succeeded_days(deployment.runs()) == Counter(window)
    assert deployment.cases() == expected.cases
    assert deployment.ledger(window) == expected.ledger
