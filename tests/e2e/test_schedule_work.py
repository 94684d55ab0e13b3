"""What the scheduler does when it fires (DESIGN 8, "Scheduling"), with a moved clock: nothing
waits for real nights. Against the simulators, on SQLite and PostgreSQL.

`NightlyWork.fire` is what APScheduler calls at start, at `nightly_at` and every `retry_every`;
here the tests call it with the clock where they want it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fixtures.simulators.server import SimulatorSet, run_simulators
from recon.db.models import LedgerDay, Run, RunLease
from recon.domain import LOCAL_TZ
from recon.runs import batch, service
from recon.runs.batch import reconcile_days
from recon.runs.schemas import RunResult
from recon.runs.service import reconcile_if_due
from recon.schedule.status import schedule_status
from recon.schedule.work import NightlyWork
from recon.settings import Schedule, Settings
from tests.e2e.conftest import INSTANT

pytestmark = pytest.mark.e2e

START, END = date(2025, 11, 14), date(2025, 11, 30)


@pytest.fixture(scope="module")
def sims() -> Iterator[SimulatorSet]:
    with run_simulators(start=START, end=END, seed=12) as running:
        yield running


def at(day: date, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=LOCAL_TZ)


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def with_lookback(settings: Settings, days: int) -> Settings:
    return msgspec.structs.replace(
        settings, schedule=msgspec.structs.replace(settings.schedule, lookback_days=days)
    )


def work(settings: Settings, sessionmaker: Any, clock: Clock) -> NightlyWork:
    return NightlyWork(
        sessionmaker=sessionmaker, settings=settings, clock=clock, retry_policy=INSTANT
    )


async def runs_of(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Run]:
    async with sessionmaker() as session:
        return list((await session.execute(select(Run).order_by(Run.id))).scalars())


async def run_by_hand(
    settings: Settings, sessionmaker: Any, days: list[date], clock: Clock
) -> None:
    done = await reconcile_days(
        sessionmaker=sessionmaker,
        settings=settings,
        plan=[(d, "manual") for d in days],
        retry_policy=INSTANT,
        clock=clock,
    )
    assert [r.status for r in done] == ["succeeded"] * len(days)


def span(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def fired(outcomes: list[Any]) -> list[tuple[str, str]]:
    return [(o.date, o.status) for o in outcomes]


async def test_a_start_after_three_missed_nights_runs_all_three_oldest_first_once_each(
    ward: tuple[Settings, async_sessionmaker[AsyncSession]],
) -> None:
    settings, sessionmaker = ward
    clock = Clock(at(date(2025, 11, 28), 8, 0))  # window: 21..27 November
    await run_by_hand(settings, sessionmaker, span(date(2025, 11, 21), date(2025, 11, 24)), clock)
    before = len(await runs_of(sessionmaker))

    outcomes = await work(settings, sessionmaker, clock).fire("start")

    missed = ["2025-11-25", "2025-11-26", "2025-11-27"]
    assert fired(outcomes) == [(d, "succeeded") for d in missed]
    new = (await runs_of(sessionmaker))[before:]
    assert [(r.business_day.isoformat(), r.trigger, r.status) for r in new] == [
        (d, "catch_up", "succeeded") for d in missed
    ]
    assert {r.channel for r in new} == {None}  # every configured channel
    # nothing is due any more: a second start, a nightly fire and a retry run nothing
    again = work(settings, sessionmaker, clock)
    assert await again.fire("start") == []
    assert await again.fire("retry") == []
    assert len(await runs_of(sessionmaker)) == before + 3


async def test_the_nightly_fire_runs_the_last_due_day_as_nightly(
    ward: tuple[Settings, async_sessionmaker[AsyncSession]],
) -> None:
    settings, sessionmaker = ward
    settings = with_lookback(settings, 2)
    clock = Clock(at(date(2025, 11, 28), 1, 29))  # last due day: the 26th
    outcomes = await work(settings, sessionmaker, clock).fire("start")
    assert fired(outcomes) == [("2025-11-25", "succeeded"), ("2025-11-26", "succeeded")]
    clock.now = at(date(2025, 11, 28), 1, 31)  # the 27th is due now
    outcomes = await work(settings, sessionmaker, clock).fire("nightly")
    assert fired(outcomes) == [("2025-11-27", "succeeded")]
    assert [(r.business_day, r.trigger) for r in await runs_of(sessionmaker)] == [
        (date(2025, 11, 25), "catch_up"),
        (date(2025, 11, 26), "catch_up"),
        (date(2025, 11, 27), "nightly"),
    ]


async def test_a_closed_day_is_skipped(
    ward: tuple[Settings, async_sessionmaker[AsyncSession]],
) -> None:
    settings, sessionmaker = ward
    settings = with_lookback(settings, 3)
    async with sessionmaker() as session:
        await session.execute(
            insert(LedgerDay).values(business_day=date(2025, 11, 26), status="closed", note="x")
        )
        await session.commit()
    clock = Clock(at(date(2025, 11, 28), 9, 0))
    outcomes = await work(settings, sessionmaker, clock).fire("start")
    assert fired(outcomes) == [("2025-11-25", "succeeded"), ("2025-11-27", "succeeded")]
    assert await work(settings, sessionmaker, clock).fire("retry") == []


async def test_a_channel_down_at_0130_is_succeeded_by_the_retry_after_it_recovers(
    sims: SimulatorSet, ward: tuple[Settings, async_sessionmaker[AsyncSession]]
) -> None:
    settings, sessionmaker = ward
    settings = with_lookback(settings, 2)
    clock = Clock(at(date(2025, 11, 28), 1, 0))
    await work(settings, sessionmaker, clock).fire("start")  # the 25th and 26th
    sims.momo.faults.add({"type": "http_500"})
    clock.now = at(date(2025, 11, 28), 1, 30)
    nightly = await work(settings, sessionmaker, clock).fire("nightly")
    assert fired(nightly) == [("2025-11-27", "partial")]
    assert isinstance(nightly[0], RunResult)
    assert nightly[0].channels["momo"]["status"] == "failed"
    # still down at the first retry: retried, still partial
    clock.now = at(date(2025, 11, 28), 1, 45)
    assert fired(await work(settings, sessionmaker, clock).fire("retry")) == [
        ("2025-11-27", "partial")
    ]
    sims.momo.faults.clear()
    clock.now = at(date(2025, 11, 28), 2, 0)
    assert fired(await work(settings, sessionmaker, clock).fire("retry")) == [
        ("2025-11-27", "succeeded")
    ]
    assert await work(settings, sessionmaker, clock).fire("retry") == []
    last = [r for r in await runs_of(sessionmaker) if r.business_day == date(2025, 11, 27)]
    assert [(r.trigger, r.status) for r in last] == [
        ("nightly", "partial"),
        ("retry", "partial"),
        ("retry", "succeeded"),
    ]
    async with sessionmaker() as session:
        status = await schedule_status(session, settings, clock())
    assert status.overdue() == []
    assert status.channel_overdue("momo") == 0


async def test_a_day_leaving_the_window_stops_being_retried_and_shows_as_given_up(
    sims: SimulatorSet, ward: tuple[Settings, async_sessionmaker[AsyncSession]]
) -> None:
    settings, sessionmaker = ward
    settings = with_lookback(settings, 3)
    for sim in (sims.momo, sims.portal, sims.bank):
        sim.faults.add({"type": "http_500", "date": "2025-11-25"})
    clock = Clock(at(date(2025, 11, 28), 9, 0))  # window: 25..27
    outcomes = await work(settings, sessionmaker, clock).fire("start")
    assert fired(outcomes) == [
        ("2025-11-25", "failed"),
        ("2025-11-26", "succeeded"),
        ("2025-11-27", "succeeded"),
    ]
    async with sessionmaker() as session:
        status = await schedule_status(session, settings, clock())
    assert [d.date for d in status.overdue()] == [date(2025, 11, 25)]
    assert status.channel_overdue("momo") == 1

    clock.now = at(date(2025, 11, 28), 9, 30)
    assert fired(await work(settings, sessionmaker, clock).fire("retry")) == [
        ("2025-11-25", "failed")
    ]
    # a day later the 25th has left the window: never tried again, though still failing
    clock.now = at(date(2025, 11, 29), 9, 0)  # window: 26..28
    assert fired(await work(settings, sessionmaker, clock).fire("retry")) == [
        ("2025-11-28", "succeeded")
    ]
    assert fired(await work(settings, sessionmaker, clock).fire("nightly")) == []
    tried = [r for r in await runs_of(sessionmaker) if r.business_day == date(2025, 11, 25)]
    assert [r.trigger for r in tried] == ["catch_up", "retry"]
    async with sessionmaker() as session:
        status = await schedule_status(session, settings, clock())
    assert status.overdue() == []
    assert [(d.date, d.status) for d in status.given_up] == [(date(2025, 11, 25), "given_up")]
    assert status.channel_given_up("momo") == 1


async def test_a_held_day_stops_the_firing_quietly_leaving_the_later_days_to_its_holder(
    ward: tuple[Settings, async_sessionmaker[AsyncSession]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings, sessionmaker = ward
    settings = with_lookback(settings, 3)
    clock = Clock(at(date(2025, 11, 28), 9, 0))
    async with sessionmaker() as session:  # another process is running the 25th
        await session.execute(
            insert(RunLease).values(
                business_day=date(2025, 11, 25),
                holder="other-host:42:run 9",
                acquired_at=clock(),
                expires_at=clock() + timedelta(seconds=30),
            )
        )
        await session.commit()
    with caplog.at_level(logging.INFO, logger="recon"):
        outcomes = await work(settings, sessionmaker, clock).fire("start")

    # the holder runs oldest first: the 26th and 27th are its to judge after the 25th
    assert fired(outcomes) == [("2025-11-25", "refused")]
    assert await runs_of(sessionmaker) == []  # a refusal is no run
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    # once the holder is gone (its lease expired), the next retry runs all three
    clock.now += timedelta(minutes=30)
    outcomes = await work(settings, sessionmaker, clock).fire("retry")
    assert fired(outcomes) == [(f"2025-11-{d}", "succeeded") for d in (25, 26, 27)]


async def test_a_run_that_raises_is_logged_with_its_day_and_the_others_go_on(
    ward: tuple[Settings, async_sessionmaker[AsyncSession]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings, sessionmaker = ward
    settings = with_lookback(settings, 3)
    clock = Clock(at(date(2025, 11, 28), 9, 0))
    real = batch.reconcile_if_due

    async def broken_on_the_26th(**kwargs: Any) -> RunResult | None:
        if kwargs["day"] == date(2025, 11, 26):
            raise RuntimeError("disk on fire")
        return await real(**kwargs)

    monkeypatch.setattr(batch, "reconcile_if_due", broken_on_the_26th)
    with caplog.at_level(logging.INFO, logger="recon"):
        outcomes = await work(settings, sessionmaker, clock).fire("start")

    assert fired(outcomes) == [("2025-11-25", "succeeded"), ("2025-11-27", "succeeded")]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "2025-11-26" in errors[0]
    assert "disk on fire" in errors[0]


async def test_a_run_that_broke_is_stored_failed_and_retried(
    ward: tuple[Settings, async_sessionmaker[AsyncSession]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings, sessionmaker = ward
    settings = with_lookback(settings, 1)
    clock = Clock(at(date(2025, 11, 28), 9, 0))

    def exploding(_: object) -> None:
        raise RuntimeError("engine exploded")

    with monkeypatch.context() as patched:
        patched.setattr(service, "run_engine", exploding)
        outcomes = await work(settings, sessionmaker, clock).fire("start")
    assert fired(outcomes) == [("2025-11-27", "failed")]
    assert isinstance(outcomes[0], RunResult)
    assert outcomes[0].error == "RuntimeError: engine exploded"
    clock.now += timedelta(minutes=30)
    assert fired(await work(settings, sessionmaker, clock).fire("retry")) == [
        ("2025-11-27", "succeeded")
    ]
    assert [(r.trigger, r.status) for r in await runs_of(sessionmaker)] == [
        ("catch_up", "failed"),
        ("retry", "succeeded"),
    ]


async def test_a_day_that_succeeded_meanwhile_is_not_run_again(
    ward: tuple[Settings, async_sessionmaker[AsyncSession]],
) -> None:
    settings, sessionmaker = ward
    clock = Clock(at(date(2025, 11, 28), 9, 0))
    day = date(2025, 11, 27)
    await run_by_hand(settings, sessionmaker, [day], clock)
    again = await reconcile_if_due(
        sessionmaker=sessionmaker,
        settings=settings,
        day=day,
        trigger="retry",
        retry_policy=INSTANT,
        clock=clock,
    )
    assert again is None
    assert len(await runs_of(sessionmaker)) == 1
    async with sessionmaker() as session:
        assert (await session.execute(select(RunLease))).first() is None  # nothing left held


async def test_no_channel_configured_means_nothing_to_run(
    ward: tuple[Settings, async_sessionmaker[AsyncSession]],
) -> None:
    settings, sessionmaker = ward
    bare = msgspec.structs.replace(settings, channels={}, schedule=Schedule(lookback_days=3))
    clock = Clock(at(date(2025, 11, 28), 9, 0))
    assert await work(bare, sessionmaker, clock).fire("start") == []
    assert await runs_of(sessionmaker) == []
