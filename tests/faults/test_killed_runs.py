"""Runs that die: real `recon reconcile` processes (issue 15, part 4).

- A run killed with SIGKILL mid-pull (SQLite and PostgreSQL), or mid-judgement (PostgreSQL,
  where judgement waits on an advisory lock the test holds), leaves its run `running` and its
  day's lease held; the day is refused until the lease expires (moved into the past here,
  rather than waiting LEASE_TTL), and then a rerun marks the dead run `abandoned` and completes.
- A PostgreSQL backend terminated (`pg_terminate_backend`) while a run judges: the run ends
  `failed` with a one-line error, nothing of its judgement written, and the retry succeeds.

Each ends with conservation checked against an undisturbed run.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select, text, update

from fixtures.simulators.server import SimulatorSet
from recon.db.models import Match, Run, RunLease
from recon.runs.lease import JUDGEMENT_LOCK
from tests.conftest import _truncate_postgres
from tests.faults.conftest import DAYS
from tests.faults.conservation import (
    Baseline,
    Deployment,
    check_conservation,
    deploy,
    sync_engine,
)

pytestmark = pytest.mark.e2e

RANGE = ("--from", DAYS[0].isoformat(), "--to", DAYS[-1].isoformat(), "--json")
KILLED_DAY = DAYS[1]


def wait_until(check: Callable[[], bool], process: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 30
    while not check():
        if process.poll() is not None:
            _out, err = process.communicate()
            pytest.fail(f"while waiting for {what}, recon exited {process.returncode}: {err}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def runs(deployment: Deployment) -> list[tuple[int, object, str, str | None]]:
    with sync_engine(deployment.url).connect() as connection:
        rows = connection.execute(select(Run).order_by(Run.id)).all()
    return [(r.id, r.business_day, r.status, r.error) for r in rows]


def leases(deployment: Deployment) -> list[tuple[object, int | None]]:
    with sync_engine(deployment.url).connect() as connection:
        return [(r.business_day, r.run_id) for r in connection.execute(select(RunLease)).all()]


def running_on(deployment: Deployment, day: object) -> bool:
    return any(d == day and s == "running" for _, d, s, _ in runs(deployment))


@contextmanager
def judgement_held(url: str) -> Iterator[Connection]:
    """PostgreSQL: the judgement lock taken by another session, so a run waits at its first
    judging statement, inside its judgement transaction."""
    engine = sync_engine(url)
    with engine.connect() as locker:
        locker.execute(select(func.pg_advisory_lock(JUDGEMENT_LOCK)))
        locker.commit()
        try:
            yield locker
        finally:
            locker.rollback()
            locker.execute(select(func.pg_advisory_unlock_all()))
            locker.commit()
    engine.dispose()


def waiting_to_judge(url: str) -> bool:
    with sync_engine(url).connect() as connection:
        waiting = connection.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        ).scalar_one()
    return int(waiting) > 0


def expire_lease(deployment: Deployment) -> None:
    """What LEASE_TTL without a renewal does, without waiting for it."""
    with sync_engine(deployment.url).begin() as connection:
        connection.execute(
            update(RunLease).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )


def kill_and_rerun(deployment: Deployment, process: subprocess.Popen[str]) -> int:
    """SIGKILL `process` (mid-run on KILLED_DAY); the day refused while the lease lives, and
    completed by a rerun once it has expired. The dead run's id."""
    process.send_signal(signal.SIGKILL)
    assert process.wait(10) == -signal.SIGKILL
    [dead] = [r for r in runs(deployment) if r[1] == KILLED_DAY]
    assert dead[2] == "running"
    assert leases(deployment) == [(KILLED_DAY, dead[0])]
    refused = deployment.recon("reconcile", "--date", KILLED_DAY.isoformat(), "--json")
    assert refused.returncode == 4, refused.stderr
    assert "is being reconciled by" in refused.stderr

    expire_lease(deployment)
    rerun = deployment.recon("reconcile", *RANGE)
    assert rerun.returncode == 0, rerun.stderr
    assert [r["status"] for r in json.loads(rerun.stdout)] == ["succeeded"] * len(DAYS)
    assert leases(deployment) == []
    return dead[0]


def test_a_run_killed_mid_pull_is_abandoned_and_its_day_completed_by_the_rerun(
    healthy: SimulatorSet, deployment: Deployment, undisturbed: Baseline
) -> None:
    healthy.momo.faults.add({"type": "delay", "seconds": 5, "date": KILLED_DAY.isoformat()})
    process = deployment.spawn("reconcile", *RANGE)
    # the first day done, the second asked MoMo for its statement (which the delay holds)
    wait_until(
        lambda: healthy.momo.requests >= 2 and running_on(deployment, KILLED_DAY),
        process,
        "a run mid-pull",
    )
    healthy.momo.faults.clear()
    dead = kill_and_rerun(deployment, process)
    [abandoned] = [r for r in runs(deployment) if r[0] == dead]
    assert abandoned[2] == "abandoned"
    assert str(abandoned[3]).startswith("its lease expired and run "), abandoned
    check_conservation(deployment.url, healthy, DAYS, deployment.settings, undisturbed)


@pytest.fixture
def pg_deployment(healthy: SimulatorSet, postgres_url: str, tmp_path: Path) -> Iterator[Deployment]:
    _truncate_postgres(postgres_url)
    deployed = deploy(healthy, postgres_url, tmp_path / "deployment")
    try:
        yield deployed
    finally:
        deployed.stop_all()


@pytest.mark.postgres
def test_a_run_killed_mid_judgement_writes_nothing_and_its_day_is_completed_by_the_rerun(
    healthy: SimulatorSet, pg_deployment: Deployment, undisturbed: Baseline
) -> None:
    deployment = pg_deployment
    assert deployment.recon("reconcile", "--date", DAYS[0].isoformat()).returncode == 0
    with judgement_held(deployment.url):
        process = deployment.spawn("reconcile", "--date", KILLED_DAY.isoformat(), "--json")
        wait_until(lambda: waiting_to_judge(deployment.url), process, "a run judging")
        dead = kill_and_rerun_later(deployment, process)
    with sync_engine(deployment.url).connect() as connection:
        assert connection.execute(select(func.count()).where(Match.run_id == dead)).scalar() == 0
    expire_lease(deployment)
    rerun = deployment.recon("reconcile", *RANGE)
    assert rerun.returncode == 0, rerun.stderr
    assert leases(deployment) == []
    check_conservation(deployment.url, healthy, DAYS, deployment.settings, undisturbed)


def kill_and_rerun_later(deployment: Deployment, process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGKILL)
    assert process.wait(10) == -signal.SIGKILL
    [dead] = [r for r in runs(deployment) if r[1] == KILLED_DAY]
    assert dead[2] == "running"
    return dead[0]


@pytest.mark.postgres
def test_a_backend_terminated_mid_run_fails_the_run_cleanly_and_the_retry_succeeds(
    healthy: SimulatorSet, pg_deployment: Deployment, undisturbed: Baseline
) -> None:
    deployment = pg_deployment
    with judgement_held(deployment.url) as locker:
        process = deployment.spawn("reconcile", "--date", DAYS[0].isoformat(), "--json")
        wait_until(lambda: waiting_to_judge(deployment.url), process, "a run judging")
        terminated = locker.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
        assert terminated >= 1
        out, err = process.communicate(timeout=30)
    assert process.returncode == 1, (out, err)
    assert len(err.strip().splitlines()) == 1, err  # one line, no traceback
    assert "Traceback" not in err
    printed = json.loads(out)  # the run's JSON, printed whatever its outcome
    assert printed["status"] == "failed"
    [(run_id, _, status, error)] = runs(deployment)
    assert (run_id, status) == (printed["run_id"], "failed")
    assert error is not None
    assert "connection" in error.lower(), error
    assert leases(deployment) == []  # the day is free at once
    with sync_engine(deployment.url).connect() as connection:
        assert connection.execute(select(func.count()).select_from(Match)).scalar() == 0

    retry = deployment.recon("reconcile", *RANGE)
    assert retry.returncode == 0, retry.stderr
    assert [r["status"] for r in json.loads(retry.stdout)] == ["succeeded"] * len(DAYS)
    check_conservation(deployment.url, healthy, DAYS, deployment.settings, undisturbed)
