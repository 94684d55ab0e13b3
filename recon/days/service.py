"""Closing a business day ("chốt sổ") and reopening it (DESIGN 4, issue 5).

An accountant closes a day for all channels at once, when it has no live cases or with a
sign-off note naming each live one (`#id`). The day's ledger figures are frozen in a snapshot;
pulls and runs of a closed day are refused until an approver reopens it. Both acts are audited.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime

import msgspec
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from recon.auth.service import find_user
from recon.days.schemas import DayEventOut, DayOut
from recon.db.models import Case, DayEvent, LedgerDay, User, table
from recon.errors import BadInput, Conflict, FieldError, Forbidden
from recon.ledger.service import snapshot_of_day
from recon.statements.fetches import refuse_days_to_come
from recon.vocab import LIVE_CASE_STATUSES

CLOSERS = ("accountant", "approver", "admin")
REOPENERS = ("approver",)


async def _actor(session: AsyncSession, username: str, roles: Sequence[str], act: str) -> User:
    user = await find_user(db_session=session, username=username)
    if user.role not in roles:
        reason = f"{act} needs the role {' or '.join(roles)}; {user.username} is {user.role}"
        raise Forbidden(reason, [FieldError(field="user", reason=reason)])
    return user


async def live_case_ids(*, db_session: AsyncSession, day: date) -> list[int]:
    query = (
        select(Case.id)
        .where(Case.business_day == day, Case.status.in_(LIVE_CASE_STATUSES))
        .order_by(Case.id)
    )
    return list((await db_session.execute(query)).scalars())


def _day_conflict(reason: str) -> Conflict:
    return Conflict(reason, [FieldError(field="date", reason=reason)])


def _required_note(note: str, act: str) -> str:
    note = note.strip()
    if not note:
        reason = f"a note is required for {act}"
        raise BadInput(reason, [FieldError(field="note", reason=reason)])
    return note


def _named(note: str) -> set[int]:
    return {int(n) for n in re.findall(r"#(\d+)", note)}


async def close_day(
    *,
    db_session: AsyncSession,
    day: date,
    username: str,
    note: str,
    channels: Sequence[str],
    now: datetime,
) -> DayOut:
    refuse_days_to_come([day], now)
    note = _required_note(note, "closing a day")
    user = await _actor(db_session, username, CLOSERS, "closing a day")
    row = await db_session.get(LedgerDay, day)
    if row is not None and row.status == "closed":
        raise _day_conflict(f"business day {day.isoformat()} is already closed")
    live = await live_case_ids(db_session=db_session, day=day)
    unnamed = [case_id for case_id in live if case_id not in _named(note)]
    if unnamed:
        listed = ", ".join(f"#{case_id}" for case_id in unnamed)
        reason = (
            f"business day {day.isoformat()} has {len(live)} live case(s); to sign off, name "
            f"each in the note: {listed}"
        )
        raise Conflict(reason, [FieldError(field="note", reason=reason)])
    snapshot = await snapshot_of_day(db_session, day, channels)
    if row is None:
        row = LedgerDay(business_day=day, status="closed")
        db_session.add(row)
    row.status, row.closed_at, row.closed_by, row.note = "closed", now, user.id, note
    row.snapshot = msgspec.json.encode(snapshot).decode()
    await db_session.execute(
        insert(table(DayEvent)),
        [{"business_day": day, "action": "close", "user_id": user.id, "at": now, "note": note}],
    )
    await db_session.commit()
    return DayOut(
        date=day,
        status="closed",
        closed_at=now,
        closed_by=user.username,
        note=note,
        live_cases=live,
    )


async def reopen_day(
    *, db_session: AsyncSession, day: date, username: str, note: str, now: datetime
) -> DayOut:
    note = _required_note(note, "reopening a day")
    user = await _actor(db_session, username, REOPENERS, "reopening a day")
    row = await db_session.get(LedgerDay, day)
    if row is None or row.status != "closed":
        raise _day_conflict(f"business day {day.isoformat()} is not closed")
    row.status, row.snapshot = "open", None
    await db_session.execute(
        insert(table(DayEvent)),
        [{"business_day": day, "action": "reopen", "user_id": user.id, "at": now, "note": note}],
    )
    await db_session.commit()
    return DayOut(date=day, status="open", closed_at=None, closed_by=None, note=note)


async def list_days(*, db_session: AsyncSession) -> list[DayOut]:
    query = (
        select(LedgerDay, User.username)
        .outerjoin(User, User.id == LedgerDay.closed_by)
        .order_by(LedgerDay.business_day)
    )
    return [
        DayOut(
            date=row.business_day,
            status=row.status,
            closed_at=row.closed_at if row.status == "closed" else None,
            closed_by=name if row.status == "closed" else None,
            note=row.note,
        )
        for row, name in await db_session.execute(query)
    ]


async def day_events(*, db_session: AsyncSession, day: date | None = None) -> list[DayEventOut]:
    query = select(DayEvent, User.username).join(User, User.id == DayEvent.user_id)
    if day is not None:
        query = query.where(DayEvent.business_day == day)
    return [
        DayEventOut(date=e.business_day, action=e.action, user=name, at=e.at, note=e.note)
        for e, name in await db_session.execute(query.order_by(DayEvent.id))
    ]
