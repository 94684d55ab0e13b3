"""One run per business day at a time: a lease row with an expiry the run renews (DESIGN 8).

A lease past its expiry (a crashed process) may be taken over. Correctness never depends on the
scheduler: two processes asking for the same day race for this row and one is refused.
"""

from __future__ import annotations

import os
import socket
from datetime import date, datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from recon.db.models import RunLease
from recon.errors import Conflict

LEASE_TTL = timedelta(minutes=10)


def holder_name(run_id: int) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:run {run_id}"


async def acquire(
    sessionmaker: async_sessionmaker[AsyncSession], day: date, run_id: int, now: datetime
) -> None:
    """Take the day's lease or raise Conflict naming who holds it."""
    holder = holder_name(run_id)
    async with sessionmaker() as session:
        current = (
            await session.execute(select(RunLease).where(RunLease.business_day == day))
        ).scalar_one_or_none()
        if current is not None:
            if current.expires_at > now:
                raise Conflict(
                    f"business day {day.isoformat()} is being reconciled by "
                    f"{current.holder} until {current.expires_at:%H:%M:%S} UTC; try again later"
                )
            # a crashed run's lease: take it over, but only if nobody else did meanwhile
            taken = await session.execute(
                update(RunLease)
                .where(RunLease.business_day == day, RunLease.expires_at == current.expires_at)
                .values(run_id=run_id, holder=holder, acquired_at=now, expires_at=now + LEASE_TTL)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict(f"business day {day.isoformat()} was just taken by another run")
            await session.commit()
            return
        try:
            await session.execute(
                insert(RunLease).values(
                    business_day=day,
                    run_id=run_id,
                    holder=holder,
                    acquired_at=now,
                    expires_at=now + LEASE_TTL,
                )
            )
            await session.commit()
        except IntegrityError:
            raise Conflict(
                f"business day {day.isoformat()} is being reconciled by another run"
            ) from None


async def renew(
    sessionmaker: async_sessionmaker[AsyncSession], day: date, run_id: int, now: datetime
) -> None:
    async with sessionmaker() as session:
        await session.execute(
            update(RunLease)
            .where(RunLease.business_day == day, RunLease.run_id == run_id)
            .values(expires_at=now + LEASE_TTL)
        )
        await session.commit()


async def release(sessionmaker: async_sessionmaker[AsyncSession], day: date, run_id: int) -> None:
    async with sessionmaker() as session:
        await session.execute(
            delete(RunLease).where(RunLease.business_day == day, RunLease.run_id == run_id)
        )
        await session.commit()
