"""Storing statement lines: each `(channel, channel_txn_id)` once, forever (DESIGN 2.4, 8).

A line seen again with the same status is a duplicate; with a status that moved forward
(pending → success/failed/reversed, success → reversed) it is updated and the change recorded;
with an older status it is a duplicate too. Bulk writes go through Core executemany.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import msgspec
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.chunks import chunks
from recon.db.models import (
    ChannelDay,
    ChannelFetch,
    LedgerDay,
    LineStatusChange,
    StatementLineRow,
    table,
)
from recon.domain import StatementLine
from recon.errors import Conflict
from recon.matching.normalize import ref_key

INSERT_BATCH = 5_000
LOOKUP_BATCH = 5_000  # well under both databases' cap on bound parameters
# where each status may move to; anything else seen again is a duplicate
FORWARD = {
    "pending": {"success", "failed", "reversed"},
    "success": {"reversed"},
    "failed": set(),
    "reversed": set(),
}


class StoreCounts(msgspec.Struct, kw_only=True):
    lines: int = 0
    inserted: int = 0
    updated: int = 0
    duplicates: int = 0


def _row(line: StatementLine, *, fetch_id: int | None, now: datetime) -> dict[str, Any]:
    return {
        "channel": line.channel,
        "channel_txn_id": line.channel_txn_id,
        "order_ref": line.order_ref,
        "order_ref_key": ref_key(line.order_ref) if line.order_ref else None,
        "dossier_hint": line.dossier_hint,
        "amount": line.amount,
        "fee": line.fee,
        "kind": line.kind,
        "refund_of": line.refund_of,
        "status": line.status,
        "paid_at": line.paid_at,
        "business_day": line.business_day,
        "description": line.description,
        "payer": line.payer,
        "raw": msgspec.json.encode(line.raw).decode(),
        "fetch_id": fetch_id,
        "first_seen_at": now,
        "updated_at": now,
    }


async def store_lines(
    db_session: AsyncSession,
    lines: Sequence[StatementLine],
    *,
    fetch_id: int | None,
    now: datetime,
) -> StoreCounts:
    """Insert new lines, move changed statuses forward; the caller commits."""
    latest: dict[tuple[str, str], StatementLine] = {}
    for line in lines:  # the same line twice in one delivery is one line: keep the later
        latest[(line.channel, line.channel_txn_id)] = line
    stored = await _stored_statuses(db_session, list(latest))
    new: list[StatementLine] = []
    moved: list[tuple[int, str, StatementLine]] = []
    for key, line in latest.items():
        found = stored.get(key)
        if found is None:
            new.append(line)
        elif line.status in FORWARD[found[1]]:
            moved.append((found[0], found[1], line))
    # rows are built a batch at a time: a 100,000-line day never holds all its dicts at once
    for batch in chunks(new, INSERT_BATCH):
        rows = [_row(line, fetch_id=fetch_id, now=now) for line in batch]
        await db_session.execute(insert(table(StatementLineRow)), rows)
    if moved:
        await db_session.execute(
            update(StatementLineRow),
            [
                {
                    "id": line_id,
                    "status": line.status,
                    "raw": msgspec.json.encode(line.raw).decode(),
                    "fetch_id": fetch_id,
                    "updated_at": now,
                }
                for line_id, _, line in moved
            ],
            execution_options={"synchronize_session": False},
        )
        await db_session.execute(
            insert(LineStatusChange),
            [
                {
                    "line_id": line_id,
                    "changed_at": now,
                    "status_before": before,
                    "status_after": line.status,
                    "fetch_id": fetch_id,
                }
                for line_id, before, line in moved
            ],
        )
    return StoreCounts(
        lines=len(latest),
        inserted=len(new),
        updated=len(moved),
        duplicates=len(latest) - len(new) - len(moved),
    )


async def _stored_statuses(
    db_session: AsyncSession, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, str]]:
    by_channel: dict[str, list[str]] = {}
    for channel, txn_id in keys:
        by_channel.setdefault(channel, []).append(txn_id)
    found: dict[tuple[str, str], tuple[int, str]] = {}
    for channel, txn_ids in by_channel.items():
        for chunk in chunks(txn_ids, LOOKUP_BATCH):
            result = await db_session.execute(
                select(
                    StatementLineRow.channel_txn_id, StatementLineRow.id, StatementLineRow.status
                ).where(
                    StatementLineRow.channel == channel,
                    StatementLineRow.channel_txn_id.in_(chunk),
                )
            )
            for txn_id, line_id, status in result:
                found[(channel, txn_id)] = (line_id, status)
    return found


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
        raise Conflict(f"business day {listed} is closed; an approver must reopen it first")


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


async def mark_channel_day(
    db_session: AsyncSession,
    *,
    channel: str,
    business_day: date,
    fetch_status: str,
    fetch_id: int,
    at: datetime,
) -> None:
    """The channel-day's current state; a failed pull leaves it failed, never reconciled."""
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
            )
        )
    else:
        row.fetch_status = fetch_status
        row.last_fetch_id = fetch_id
        row.fetched_at = at
        if fetch_status == "failed":
            row.reconciled_at = None
    await db_session.flush()
