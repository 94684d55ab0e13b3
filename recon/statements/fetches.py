"""A delivery's bookkeeping: its fetch record, its channel-day's state, and the rule that a
closed business day takes no new delivery (DESIGN 4, 8).

A fetch is one attempt to get one channel-day, by a pull or a file import; the channel-day
keeps the latest one's outcome: a failed pull leaves the day failed, never reconciled, for the
next run to pull again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.models import ChannelDay, ChannelFetch, LedgerDay
from recon.domain import business_day_of
from recon.errors import BadInput, Conflict, FieldError
from recon.statements.service import StoreCounts


def refuse_days_to_come(days: Iterable[date], now: datetime) -> None:
    """A business day after today (local) cannot be pulled, reconciled or closed: its
    statement does not exist yet. Nor can the calendar's first day, which has no day before
    it for a run to look back on."""
    today = business_day_of(now)
    for day in sorted(set(days)):
        if day > today:
            reason = f"business day {day.isoformat()} has not come yet (today is {today})"
        elif day == date.min:
            reason = f"business day {day.isoformat()} is before any statement"
        else:
            continue
        raise BadInput(reason, [FieldError(field="date", reason=reason)])


async def refuse_closed_days(db_session: AsyncSession, days: Iterable[date]) -> None:
    """A closed business day is not pulled, imported into or re-run until reopened."""
    wanted = sorted(set(days))
    if not wanted:
        return
    closed = (
        (
            await db_session.execute(
                select(LedgerDay.business_day).where(
                    LedgerDay.business_day.in_(wanted), LedgerDay.status == "closed"
                )
            )
        )
        .scalars()
        .all()
    )
    if closed:
        listed = ", ".join(d.isoformat() for d in sorted(closed))
        reason = f"business day {listed} is closed; an approver must reopen it first"
        raise Conflict(reason, [FieldError(field="date", reason=reason)])


async def record_fetch(
    db_session: AsyncSession,
    *,
    channel: str,
    business_day: date | None,
    source: str,
    status: str,
    started_at: datetime,
    finished_at: datetime,
    counts: StoreCounts | None = None,
    error: str | None = None,
    control: tuple[int | None, int | None] = (None, None),
    received: tuple[int | None, int | None] = (None, None),
    file_name: str | None = None,
    run_id: int | None = None,
) -> int:
    counts = counts or StoreCounts()
    result = await db_session.execute(
        insert(ChannelFetch).returning(ChannelFetch.id),
        [
            {
                "channel": channel,
                "business_day": business_day,
                "source": source,
                "status": status,
                "started_at": started_at,
                "finished_at": finished_at,
                "lines": counts.lines,
                "inserted": counts.inserted,
                "updated": counts.updated,
                "duplicates": counts.duplicates,
                "control_count": control[0],
                "control_amount": control[1],
                "received_count": received[0],
                "received_amount": received[1],
                "error": error,
                "file_name": file_name,
                "run_id": run_id,
            }
        ],
    )
    return int(result.scalar_one())


async def finish_fetch(
    db_session: AsyncSession,
    fetch_id: int,
    counts: StoreCounts,
    at: datetime,
    *,
    business_day: date | None = None,
) -> None:
    """A fetch that stored its delivery: succeeded, with its counts (and its business day, when
    only learnt at the end, as for a file)."""
    values: dict[str, Any] = {
        "status": "succeeded",
        "finished_at": at,
        "lines": counts.lines,
        "inserted": counts.inserted,
        "updated": counts.updated,
        "duplicates": counts.duplicates,
        "received_count": counts.lines,
    }
    if business_day is not None:
        values["business_day"] = business_day
    await db_session.execute(update(ChannelFetch).where(ChannelFetch.id == fetch_id).values(values))


async def mark_channel_day(
    db_session: AsyncSession,
    *,
    channel: str,
    business_day: date,
    fetch_status: str,
    fetch_id: int,
    at: datetime,
) -> None:
    """The channel-day's current state. A failed pull leaves it failed and never makes it
    reconciled, but erases nothing an earlier successful pull of the day established: its
    lines stay, and so does its `pulled_at` (DESIGN 8: its claims and pending lines stay
    judged on that statement)."""
    row = (
        await db_session.execute(
            select(ChannelDay).where(
                ChannelDay.channel == channel, ChannelDay.business_day == business_day
            )
        )
    ).scalar_one_or_none()
    if row is None:
        db_session.add(
            ChannelDay(
                channel=channel,
                business_day=business_day,
                fetch_status=fetch_status,
                last_fetch_id=fetch_id,
                fetched_at=at,
                pulled_at=at if fetch_status == "succeeded" else None,
            )
        )
    else:
        row.fetch_status = fetch_status
        row.last_fetch_id = fetch_id
        row.fetched_at = at
        if fetch_status == "succeeded":
            row.pulled_at = at
    await db_session.flush()
