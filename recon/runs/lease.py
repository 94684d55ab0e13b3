"""One run per business day at a time: a lease row with a short expiry that the run renews
while it works (DESIGN 7 and 8).

- The lease is taken in the transaction that creates the run: a refused lease leaves no run.
- A running run renews it every `RENEW_EVERY` from a background task (`Heartbeat`), so a run
  whose process died frees its day within `LEASE_TTL`: the next run takes the lease over and
  marks the dead run `abandoned`.
- The run commits its judgement only in a transaction that still holds the lease
  (`confirm`): a run that stalled past its expiry and was taken over writes nothing.

Correctness never depends on the scheduler: two processes asking for the same day race for
this row and one is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta

from sqlalchemy import Update, delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from recon.clock import Clock
from recon.db.models import Run, RunLease
from recon.errors import Conflict

LEASE_TTL = timedelta(seconds=60)
RENEW_EVERY = timedelta(seconds=15)

log = logging.getLogger("recon.runs")


class LeaseLost(Conflict):
    """The run's lease expired and another run took its day over: this run writes nothing."""


def holder_name(run_id: int) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:run {run_id}"


async def take(session: AsyncSession, day: date, run_id: int, now: datetime) -> None:
    """Take the day's lease for `run_id` in the caller's transaction, or raise Conflict naming
    who holds it. An expired lease is taken over and its run marked `abandoned`."""
    holder = holder_name(run_id)
    current = (
        await session.execute(select(RunLease).where(RunLease.business_day == day))
    ).scalar_one_or_none()
    if current is None:
        try:
            async with session.begin_nested():
                await session.execute(
                    insert(RunLease).values(
                        business_day=day,
                        run_id=run_id,
                        holder=holder,
                        acquired_at=now,
                        expires_at=now + LEASE_TTL,
                    )
                )
        except IntegrityError:
            raise Conflict(
                f"business day {day.isoformat()} is being reconciled by another run"
            ) from None
        return
    if current.expires_at > now:
        raise Conflict(
            f"business day {day.isoformat()} is being reconciled by {current.holder} until "
            f"{current.expires_at:%H:%M:%S} UTC; try again later"
        )
    # a dead run's lease: take it over, but only if nobody else did meanwhile
    dead_run = current.run_id
    taken = await session.execute(
        update(RunLease)
        .where(RunLease.business_day == day, RunLease.expires_at == current.expires_at)
        .values(run_id=run_id, holder=holder, acquired_at=now, expires_at=now + LEASE_TTL)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"business day {day.isoformat()} was just taken by another run")
    if dead_run is not None:
        await abandon(session, dead_run, now, f"its lease expired and run {run_id} took its day")


async def abandon(session: AsyncSession, run_id: int, now: datetime, why: str) -> None:
    """Mark a run that is still `running` as `abandoned` (a finished run stays as it ended)."""
    await session.execute(
        update(Run)
        .where(Run.id == run_id, Run.status == "running")
        .values(status="abandoned", finished_at=now, error=why)
    )


# one judgement at a time in the whole database: the run of D also judges lines and dossiers
# of D-1 (a refund's payment, a dossier paid over two days), so two days judged at once would
# write the same matches and cases. SQLite's writers queue already (BEGIN IMMEDIATE).
JUDGEMENT_LOCK = 0x7265636F6E  # "recon"


async def judge_alone(session: AsyncSession) -> None:
    """The first statement of a run's judgement transaction on PostgreSQL: wait for any other
    run's judgement to commit, so this one loads what that one wrote."""
    await session.execute(select(func.pg_advisory_xact_lock(JUDGEMENT_LOCK)))


async def confirm(session: AsyncSession, day: date, run_id: int, now: datetime) -> None:
    """In the transaction about to commit the run's judgement: still the holder, and holding
    on until the commit (PostgreSQL locks the row; SQLite's writer holds the database)."""
    renewed = await session.execute(_extended(day, run_id, now))
    if renewed.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost(
            f"run {run_id} lost the lease of {day.isoformat()} to another run; it wrote nothing"
        )


def _extended(day: date, run_id: int, now: datetime) -> Update:
    """The lease of `day` extended to `now` + LEASE_TTL, if `run_id` still holds it."""
    return (
        update(RunLease)
        .where(RunLease.business_day == day, RunLease.run_id == run_id)
        .values(expires_at=now + LEASE_TTL)
    )


async def renew(
    sessionmaker: async_sessionmaker[AsyncSession], day: date, run_id: int, now: datetime
) -> bool:
    """Extend the lease; False when it is no longer this run's."""
    async with sessionmaker() as session:
        renewed = await session.execute(_extended(day, run_id, now))
        await session.commit()
    return bool(renewed.rowcount == 1)  # type: ignore[attr-defined]


async def release(sessionmaker: async_sessionmaker[AsyncSession], day: date, run_id: int) -> None:
    async with sessionmaker() as session:
        await session.execute(
            delete(RunLease).where(RunLease.business_day == day, RunLease.run_id == run_id)
        )
        await session.commit()


async def sweep(sessionmaker: async_sessionmaker[AsyncSession], now: datetime) -> list[int]:
    """Free the days of dead runs: every expired lease is dropped and its run, if still
    `running`, marked `abandoned`. Returns the abandoned runs' ids. Runs without a lease
    (a process killed before 0005's leases, say) that are `running` for longer than a lease
    lives are abandoned too."""
    async with sessionmaker() as session:
        expired = list(
            (
                await session.execute(
                    select(RunLease.business_day, RunLease.run_id).where(RunLease.expires_at <= now)
                )
            ).all()
        )
        leased = select(RunLease.run_id).where(RunLease.run_id.is_not(None))
        orphans = (
            await session.execute(
                select(Run.id).where(
                    Run.status == "running",
                    Run.started_at <= now - LEASE_TTL,
                    Run.id.not_in(leased),
                )
            )
        ).scalars()
        dead = [run_id for _, run_id in expired if run_id is not None] + list(orphans)
        for day, run_id in expired:
            await session.execute(
                delete(RunLease).where(
                    RunLease.business_day == day,
                    RunLease.run_id == run_id,
                    RunLease.expires_at <= now,
                )
            )
        for run_id in dead:
            await abandon(session, run_id, now, "its process stopped renewing its lease")
        await session.commit()
    return dead


class Heartbeat:
    """Renews a run's lease every RENEW_EVERY while the run works; `lost` once it is not the
    holder any more. A renewal that fails (SQLite busy under the run's own long write) is
    tried again at the next beat: nobody else can take the lease while that write lasts."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        day: date,
        run_id: int,
        clock: Clock,
        every: timedelta = RENEW_EVERY,
    ) -> None:
        self.sessionmaker, self.day, self.run_id, self.clock = sessionmaker, day, run_id, clock
        self.every = every
        self.lost = False
        self.paused = False

    def check(self) -> None:
        """Raise LeaseLost at a checkpoint of the run when the lease was taken over."""
        if self.lost:
            raise LeaseLost(
                f"run {self.run_id} lost the lease of {self.day.isoformat()} to another run"
            )

    async def _beat(self) -> None:
        while not self.lost:
            await asyncio.sleep(self.every.total_seconds())
            if self.paused:
                continue
            try:
                self.lost = not await renew(self.sessionmaker, self.day, self.run_id, self.clock())
            except (DBAPIError, OSError) as exc:
                log.warning("run %d: lease renewal failed, retrying: %s", self.run_id, exc)

    @contextlib.asynccontextmanager
    async def quiet(self, when: bool) -> AsyncIterator[None]:
        """No renewals while the run's own SQLite write lasts: they would only wait for it,
        and no other process can take the lease over meanwhile (that is a write too)."""
        self.paused = when
        try:
            yield
        finally:
            self.paused = False

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Heartbeat]:
        task = asyncio.create_task(self._beat(), name=f"lease of run {self.run_id}")
        try:
            yield self
        finally:
            task.cancel()
            # wait() swallows the beat's cancellation but not the run's own (a SIGTERM landing
            # here must still stop the run)
            await asyncio.wait([task])
