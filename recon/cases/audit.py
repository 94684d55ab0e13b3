"""The audit log of every case: each event (a person's action or the engine's change), newest
first, filtered by person, case and local day, paged by a cursor (the last event id shown), so
that the thousandth page costs what the first does."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.models import Case, CaseEvent, User

AUDIT_PAGE = 50
ENGINE = "@he-thong"  # the engine's events (actor null): no username can have an "@"


class AuditFilter(msgspec.Struct, frozen=True, kw_only=True):
    actor: str | None = None  # a username, or ENGINE
    case_id: int | None = None
    day: date | None = None  # in the ward's time zone
    before: int | None = None  # show events older than this id


class AuditRow(msgspec.Struct, kw_only=True):
    id: int
    at: datetime
    actor: str | None
    action: str
    case_id: int
    case_type: str
    from_status: str | None
    to_status: str
    resolution: str | None
    dossier_code: str | None
    note: str


class AuditPage(msgspec.Struct, kw_only=True):
    rows: list[AuditRow]
    next_before: int | None  # the cursor of the next (older) page, None on the last


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The local day as a half-open range of moments."""
    start = datetime.combine(day, time(), tz)
    return start, datetime.combine(day + timedelta(days=1), time(), tz)


async def audit_page(*, db_session: AsyncSession, wanted: AuditFilter, tz: ZoneInfo) -> AuditPage:
    e = CaseEvent
    conditions: list[ColumnElement[bool]] = []
    if wanted.actor == ENGINE:
        conditions.append(e.actor.is_(None))
    elif wanted.actor:
        conditions.append(e.actor == wanted.actor)
    if wanted.case_id is not None:
        conditions.append(e.case_id == wanted.case_id)
    if wanted.day is not None:
        start, end = day_bounds(wanted.day, tz)
        conditions.extend([e.at >= start, e.at < end])
    if wanted.before is not None:
        conditions.append(e.id < wanted.before)
    query = (
        select(
            e.id,
            e.at,
            e.actor,
            e.action,
            e.case_id,
            Case.type.label("case_type"),
            e.from_status,
            e.to_status,
            e.resolution,
            e.dossier_code,
            e.note,
        )
        .join(Case, Case.id == e.case_id)
        .where(*conditions)
        .order_by(e.id.desc())
        .limit(AUDIT_PAGE + 1)
    )
    rows = [AuditRow(**r._asdict()) for r in await db_session.execute(query)]
    more = len(rows) > AUDIT_PAGE
    rows = rows[:AUDIT_PAGE]
    return AuditPage(rows=rows, next_before=rows[-1].id if more else None)


async def usernames(*, db_session: AsyncSession) -> list[str]:
    """Every account, for the person filter (the events name accounts by username)."""
    return list((await db_session.execute(select(User.username).order_by(User.username))).scalars())
