"""The run lease (DESIGN 7 and 8; issue 12): one run per day at a time, short and renewed, a
dead run's day free again within a minute, its run `abandoned`, a refusal no run at all, and a
run that lost its lease or was stopped writing nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time as clock_time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from recon.db.models import Match, Run, RunLease
from recon.db.session import open_database
from recon.errors import Conflict
from recon.runs import lease, service
from recon.runs.service import reconcile_day
from recon.settings import Settings
from tests.runs.test_reconcile import ward

__all__ = ["ward"]

DAY = date(2025, 11, 24)  # the day of the `ward` statement
T0 = datetime(2025, 11, 25, 2, 0, tzinfo=UTC)


async def add_run(sessionmaker: async_sessionmaker[AsyncSession], started: datetime) -> int:
    async with sessionmaker() as session:
        run = Run(business_day=DAY, status="running", trigger="nightly", started_at=started)
        session.add(run)
        await session.commit()
        return run.id


async def add_lease(
    sessionmaker: async_sessionmaker[AsyncSession], run_id: int | None, expires: datetime
) -> None:
    async with sessionmaker() as session:
        await session.execute(
            insert(RunLease).values(
                business_day=DAY,
                run_id=run_id,
                holder="dead-host:1:run",
                acquired_at=expires - lease.LEASE_TTL,
                expires_at=expires,
            )
        )
        await session.commit()


async def rows(sessionmaker: async_sessionmaker[AsyncSession], model: Any) -> list[Any]:
    async with sessionmaker() as session:
        return list((await session.execute(select(model))).scalars())


async def test_the_lease_lives_a_minute_from_its_last_renewal(settings: Settings) -> None:
    assert timedelta(seconds=60) == lease.LEASE_TTL
    assert lease.RENEW_EVERY * 3 < lease.LEASE_TTL  # two missed beats are not yet a death
    async with open_database(settings.database_url) as sessionmaker:
        run_id = await add_run(sessionmaker, T0)
        async with sessionmaker() as session:
            await lease.take(session, DAY, run_id, T0)
            await session.commit()
        assert await lease.renew(sessionmaker, DAY, run_id, T0 + timedelta(seconds=40))
        (held,) = await rows(sessionmaker, RunLease)
        assert held.expires_at == T0 + timedelta(seconds=100)
        # a minute after that renewal another run may take the day over, not a second before
        other = await add_run(sessionmaker, T0)
        async with sessionmaker() as session:
            with pytest.raises(Conflict, match="being reconciled"):
                await lease.take(session, DAY, other, T0 + timedelta(seconds=99))
        async with sessionmaker() as session:
            await lease.take(session, DAY, other, T0 + timedelta(seconds=100))
            await session.commit()
        (taken,) = await rows(sessionmaker, RunLease)
        assert taken.run_id == other


async def test_a_refused_lease_leaves_no_run(settings: Settings) -> None:
    async with open_database(settings.database_url) as sessionmaker:
        await add_lease(sessionmaker, None, datetime.now(UTC) + timedelta(seconds=30))
        with pytest.raises(Conflict, match="dead-host:1:run"):
            await reconcile_day(sessionmaker=sessionmaker, settings=settings, day=DAY, pull=False)
        assert await rows(sessionmaker, Run) == []


async def test_a_dead_runs_day_is_taken_over_and_the_dead_run_marked_abandoned(
    settings: Settings,
) -> None:
    now = datetime.now(UTC)
    async with open_database(settings.database_url) as sessionmaker:
        dead = await add_run(sessionmaker, now - timedelta(minutes=5))
        await add_lease(sessionmaker, dead, now - timedelta(seconds=1))
        result = await reconcile_day(
            sessionmaker=sessionmaker, settings=settings, day=DAY, pull=False
        )
        assert result.status == "succeeded"
        by_id = {r.id: r for r in await rows(sessionmaker, Run)}
        assert by_id[dead].status == "abandoned"
        assert f"run {result.run_id} took its day" in (by_id[dead].error or "")
        assert by_id[dead].finished_at is not None
        assert by_id[result.run_id].status == "succeeded"
        assert await rows(sessionmaker, RunLease) == []  # released


async def test_the_heartbeat_renews_and_notices_a_takeover(settings: Settings) -> None:
    moments = iter(T0 + timedelta(seconds=n) for n in range(10_000))

    def ticking() -> datetime:
        return next(moments)

    async with open_database(settings.database_url) as sessionmaker:
        run_id = await add_run(sessionmaker, T0)
        async with sessionmaker() as session:
            await lease.take(session, DAY, run_id, T0)
            await session.commit()
        beat = lease.Heartbeat(sessionmaker, DAY, run_id, ticking, every=timedelta(seconds=0.02))
        async with beat.running():
            await _until(lambda: _expiry(sessionmaker), lambda e: e > T0 + lease.LEASE_TTL)
            beat.check()  # still ours
            other = await add_run(sessionmaker, T0)
            async with sessionmaker() as session:
                await session.execute(update(RunLease).values(run_id=other))
                await session.commit()
            await _until(lambda: _lost(beat), lambda lost: lost)
            with pytest.raises(lease.LeaseLost, match=f"run {run_id} lost the lease"):
                beat.check()


async def _expiry(sessionmaker: async_sessionmaker[AsyncSession]) -> datetime:
    (held,) = await rows(sessionmaker, RunLease)
    expires: datetime = held.expires_at
    return expires


async def _lost(beat: lease.Heartbeat) -> bool:
    return beat.lost


async def _until(read: Callable[[], Any], ok: Callable[[Any], bool], within: float = 5) -> None:
    deadline = clock_time.monotonic() + within
    while not ok(await read()):
        assert clock_time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_sweep_abandons_dead_runs_only(settings: Settings) -> None:
    now = datetime.now(UTC)
    async with open_database(settings.database_url) as sessionmaker:
        expired = await add_run(sessionmaker, now - timedelta(minutes=3))
        await add_lease(sessionmaker, expired, now - timedelta(seconds=1))
        orphan = await add_run(sessionmaker, now - timedelta(minutes=3))  # no lease at all
        young = await add_run(sessionmaker, now - timedelta(seconds=5))  # just starting
        assert sorted(await lease.sweep(sessionmaker, now)) == sorted([expired, orphan])
        status = {r.id: r.status for r in await rows(sessionmaker, Run)}
        assert status == {expired: "abandoned", orphan: "abandoned", young: "running"}
        assert await rows(sessionmaker, RunLease) == []
        # a live lease is left alone
        async with sessionmaker() as session:
            await lease.take(session, DAY, young, now)
            await session.commit()
        assert await lease.sweep(sessionmaker, now + timedelta(seconds=30)) == []
        assert [r.run_id for r in await rows(sessionmaker, RunLease)] == [young]


def test_a_run_that_lost_its_lease_writes_nothing_and_ends_abandoned(
    settings: Settings, ward: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_pull_all = service._pull_all
    taker: list[int] = []

    async def pulled_then_taken_over(sessionmaker: Any, *args: Any) -> Any:
        outcomes = await real_pull_all(sessionmaker, *args)
        # the run stalled past its lease, and another run took the day over
        other = await add_run(sessionmaker, datetime.now(UTC))
        async with sessionmaker() as session:
            await session.execute(
                update(RunLease).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
            await lease.take(session, DAY, other, datetime.now(UTC))
            await session.commit()
        taker.append(other)
        return outcomes

    monkeypatch.setattr(service, "_pull_all", pulled_then_taken_over)

    async def go() -> None:
        async with open_database(settings.database_url) as sessionmaker:
            with pytest.raises(lease.LeaseLost, match="lost the lease"):
                await reconcile_day(
                    sessionmaker=sessionmaker, settings=settings, day=DAY, pull=False
                )
            runs = {r.id: r for r in await rows(sessionmaker, Run)}
            (lost,) = [r for r in runs.values() if r.id not in taker]
            assert lost.status == "abandoned"
            assert await _count(sessionmaker, Match) == 0  # its judgement never committed
            # the day is the taker's: the loser's release left its lease alone
            assert [r.run_id for r in await rows(sessionmaker, RunLease)] == taker

    asyncio.run(go())


def test_a_stopped_run_is_abandoned_whole_and_frees_its_day(
    settings: Settings, ward: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_engine = service.run_engine

    def slow_engine(engine_input: Any) -> Any:
        clock_time.sleep(0.5)
        return real_engine(engine_input)

    monkeypatch.setattr(service, "run_engine", slow_engine)

    async def go() -> None:
        async with open_database(settings.database_url) as sessionmaker:
            task = asyncio.create_task(
                reconcile_day(sessionmaker=sessionmaker, settings=settings, day=DAY, pull=False)
            )
            await asyncio.sleep(0.2)  # inside the engine, its transaction open
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            (run,) = await rows(sessionmaker, Run)
            assert (run.status, run.error) == ("abandoned", "stopped before it finished")
            assert await rows(sessionmaker, RunLease) == []
            assert await _count(sessionmaker, Match) == 0
            # and the day runs again at once
            await asyncio.sleep(0.5)  # let the orphaned engine thread end
            again = await reconcile_day(
                sessionmaker=sessionmaker, settings=settings, day=DAY, pull=False
            )
            assert again.status == "succeeded"
            assert await _count(sessionmaker, Match) > 0

    asyncio.run(go())


async def _count(sessionmaker: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())
