"""Pulling one channel-day and importing statement files: store whole, or store nothing."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.base import ChannelError, ControlTotalsMismatch, RetryPolicy
from recon.clock import Clock, utcnow
from recon.domain import ChannelStatement
from recon.settings import Settings
from recon.statements.channels import build_adapter, channel_config
from recon.statements.fetches import (
    finish_fetch,
    mark_channel_day,
    record_fetch,
    refuse_closed_days,
    refuse_days_to_come,
)
from recon.statements.schemas import ChannelOutcome
from recon.statements.service import StoreCounts, store_lines
from recon.system.logs import log_context
from recon.system.metrics import count_lines

log = logging.getLogger("recon.statements")


async def pull_channel_day(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    channel: str,
    day: date,
    client: httpx.AsyncClient,
    run_id: int | None = None,
    retry_policy: RetryPolicy | None = None,
    clock: Clock = utcnow,
) -> ChannelOutcome:
    """Fetch, check and store one channel's day; a failure stores no line and marks the day.

    The whole day is fetched and checked before the database is written, so SQLite's write
    lock is held for the store alone, never across the channel's retries and back-offs.
    """
    with log_context(channel=channel, business_day=day):
        adapter = build_adapter(settings, channel, client, retry_policy=retry_policy)
        refuse_days_to_come([day], clock())
        async with sessionmaker() as session:
            await refuse_closed_days(session, [day])
        started = clock()
        try:
            statement = await adapter.fetch_day(day)
        except ChannelError as exc:
            log.warning("pull of %s %s failed: %s", channel, day, exc)
            await _record_failure(sessionmaker, exc, channel, day, started, run_id, clock)
            mismatch = None
            if isinstance(exc, ControlTotalsMismatch):
                mismatch = {
                    "expected_count": exc.expected_count,
                    "expected_amount": exc.expected_amount,
                    "received_count": exc.received_count,
                    "received_amount": exc.received_amount,
                }
            return ChannelOutcome(status="failed", error=str(exc), control_mismatch=mismatch)
        async with sessionmaker() as session:
            counts = await _store_fetched(session, statement, started, run_id, clock)
            await session.commit()
        count_lines(
            channel,
            "pull",
            inserted=counts.inserted,
            updated=counts.updated,
            duplicates=counts.duplicates,
        )
        log.info(
            "pulled %s %s: %d lines, %d new, %d updated",
            channel,
            day,
            counts.lines,
            counts.inserted,
            counts.updated,
        )
        return ChannelOutcome(
            status="succeeded",
            lines=counts.lines,
            inserted=counts.inserted,
            duplicates=counts.duplicates,
            updated=counts.updated,
        )


async def _record_failure(
    sessionmaker: async_sessionmaker[AsyncSession],
    exc: ChannelError,
    channel: str,
    day: date,
    started: datetime,
    run_id: int | None,
    clock: Clock,
) -> None:
    """A failed pull leaves a failed fetch record and a failed channel-day, and no line."""
    control: tuple[int | None, int | None] = (None, None)
    received: tuple[int | None, int | None] = (None, None)
    if isinstance(exc, ControlTotalsMismatch):
        control = (exc.expected_count, exc.expected_amount)
        received = (exc.received_count, exc.received_amount)
    async with sessionmaker() as session:
        fetch_id = await record_fetch(
            session,
            channel=channel,
            business_day=day,
            source="pull",
            status="failed",
            started_at=started,
            finished_at=clock(),
            error=exc.detail,
            control=control,
            received=received,
            run_id=run_id,
        )
        await mark_channel_day(
            session,
            channel=channel,
            business_day=day,
            fetch_status="failed",
            fetch_id=fetch_id,
            at=clock(),
        )
        await session.commit()


async def _store_fetched(
    session: AsyncSession,
    statement: ChannelStatement,
    started: datetime,
    run_id: int | None,
    clock: Clock,
) -> StoreCounts:
    fetch_id = await record_fetch(
        session,
        channel=statement.channel,
        business_day=statement.business_day,
        source="pull",
        status="running",
        started_at=started,
        finished_at=clock(),
        # the totals the lines were checked against, kept for audit on a good pull as on a
        # failed one (they were dropped here, so a fetch record could not show what it proved)
        control=(statement.control.count, statement.control.amount),
        run_id=run_id,
    )
    counts = await store_lines(session, statement.lines, fetch_id=fetch_id, now=clock())
    await finish_fetch(session, fetch_id, counts, clock())
    await mark_channel_day(
        session,
        channel=statement.channel,
        business_day=statement.business_day,
        fetch_status="succeeded",
        fetch_id=fetch_id,
        at=clock(),
    )
    return counts


async def pull_once(settings: Settings, channel: str, day: date) -> dict[str, Any]:
    """`recon statements pull`: the run-shaped object of DESIGN 6 with `run_id` null."""
    from recon.db.session import open_database

    channel_config(settings, channel)
    async with (
        open_database(settings.database_url) as sessionmaker,
        httpx.AsyncClient() as client,
    ):
        outcome = await pull_channel_day(
            sessionmaker=sessionmaker, settings=settings, channel=channel, day=day, client=client
        )
    return {
        "run_id": None,
        "date": day.isoformat(),
        "status": outcome.status,
        "channels": {channel: outcome.as_json()},
        "matched": 0,
        "cases_opened": 0,
        "cases_closed": 0,
        "cases_open": 0,
    }
