"""Reading the mismatch queue: filters, stable pagination, one case in full."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TypeVarTuple

import msgspec
from sqlalchemy import Select, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from recon.cases.schemas import (
    STATUS_FILTERS,
    CaseDetail,
    CaseEventOut,
    CaseLineOut,
    CaseList,
    CasePage,
    CaseSummary,
)
from recon.db.models import Case, CaseEvent, CaseLine, Dossier, StatementLineRow
from recon.domain import MAX_ID
from recon.errors import BadInput, FieldError, NotFound
from recon.vocab import CASE_TYPES, LIVE_CASE_STATUSES

MAX_PAGE = 1000
Ts = TypeVarTuple("Ts")


class CaseFilter(msgspec.Struct, frozen=True, kw_only=True):
    status: str = "open"
    day: date | None = None
    case_type: str | None = None
    channel: str | None = None


def check_filter(
    *,
    status: str,
    day: date | None,
    case_type: str | None,
    channel: str | None,
    channels: Sequence[str],
    prefix: str = "--",
) -> CaseFilter:
    """The filters checked, every bad one named in `errors` (`status`, `type`, `channel`: the
    API's and the CLI's name alike). `detail` writes each name after `prefix`: the CLI's
    `--status`; the API passes "" and says `status`."""
    errors: list[FieldError] = []
    status = status.strip().lower()
    if status not in STATUS_FILTERS:
        errors.append(FieldError("status", f"{status!r} is not one of {', '.join(STATUS_FILTERS)}"))
    if case_type is not None:
        case_type = case_type.strip().upper()
        if case_type not in CASE_TYPES:
            reason = f"{case_type!r} is not a case type ({', '.join(CASE_TYPES)})"
            errors.append(FieldError("type", reason))
    if channel is not None and channel not in channels:
        known = ", ".join(channels) or "none configured"
        errors.append(FieldError("channel", f"unknown channel {channel!r} (channels: {known})"))
    if errors:
        raise BadInput("; ".join(f"{prefix}{e.field}: {e.reason}" for e in errors), errors)
    return CaseFilter(status=status, day=day, case_type=case_type, channel=channel)


def _filtered(query: Select[*Ts], wanted: CaseFilter) -> Select[*Ts]:
    if wanted.status == "open":
        query = query.where(Case.status.in_(LIVE_CASE_STATUSES))
    elif wanted.status != "all":
        query = query.where(Case.status == wanted.status)
    if wanted.day is not None:
        query = query.where(Case.business_day == wanted.day)
    if wanted.case_type is not None:
        query = query.where(Case.type == wanted.case_type)
    if wanted.channel is not None:
        query = query.where(Case.channel == wanted.channel)
    return query


async def _txn_ids(session: AsyncSession, case_ids: Sequence[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for start in range(0, len(case_ids), 500):
        part = case_ids[start : start + 500]
        query = (
            select(CaseLine.case_id, StatementLineRow.channel_txn_id)
            .join(StatementLineRow, StatementLineRow.id == CaseLine.line_id)
            .where(CaseLine.case_id.in_(part))
            .order_by(CaseLine.case_id, StatementLineRow.channel_txn_id)
        )
        for case_id, txn_id in await session.execute(query):
            found.setdefault(case_id, []).append(txn_id)
    return found


async def live_case_counts(*, db_session: AsyncSession) -> dict[str, int]:
    """Live (open and reopened) cases by type, every type named, 0 when it has none."""
    query = (
        select(Case.type, func.count())
        .where(Case.status.in_(LIVE_CASE_STATUSES))
        .group_by(Case.type)
    )
    found = {case_type: int(n) for case_type, n in await db_session.execute(query)}
    return {case_type: found.get(case_type, 0) for case_type in CASE_TYPES}


async def list_cases(
    *,
    db_session: AsyncSession,
    wanted: CaseFilter,
    after: int | None = None,
    limit: int | None = None,
) -> CasePage:
    query = _filtered(
        select(Case, Dossier.dossier_code).outerjoin(Dossier, Dossier.id == Case.dossier_id),
        wanted,
    ).order_by(Case.id)
    # ids are 1 to MAX_ID: below that all follow, past it none (the database takes neither)
    if after is not None and after >= MAX_ID:
        query = query.where(false())
    elif after is not None and after >= 1:
        query = query.where(Case.id > after)
    if limit is not None:
        query = query.limit(limit + 1)
    rows = list((await db_session.execute(query)).all())
    more = limit is not None and len(rows) > limit
    rows = rows[:limit] if limit is not None else rows
    txn_ids = await _txn_ids(db_session, [case.id for case, _ in rows])
    totals = await db_session.execute(
        _filtered(select(Case.type, func.count()).group_by(Case.type), wanted)
    )
    counts = {case_type: int(n) for case_type, n in totals}
    return CasePage(
        cases=[
            CaseSummary.from_row(
                case,
                date=case.business_day,
                dossier_code=code,
                channel_txn_ids=txn_ids.get(case.id, []),
            )
            for case, code in rows
        ],
        total=sum(counts.values()),
        counts_by_type=dict(sorted(counts.items())),
        next_cursor=rows[-1][0].id if more and rows else None,
    )


async def get_case(*, db_session: AsyncSession, case_id: int) -> CaseDetail:
    case = await db_session.get(Case, case_id) if 1 <= case_id <= MAX_ID else None
    if case is None:
        reason = f"no case with id {case_id}"
        raise NotFound(reason, [FieldError("case_id", reason)])
    dossier = await db_session.get(Dossier, case.dossier_id) if case.dossier_id else None
    linked_id = case.linked_dossier_id
    linked = await db_session.get(Dossier, linked_id) if linked_id else None
    lines = (
        await db_session.execute(
            select(StatementLineRow)
            .join(CaseLine, CaseLine.line_id == StatementLineRow.id)
            .where(CaseLine.case_id == case_id)
            .order_by(StatementLineRow.paid_at, StatementLineRow.id)
        )
    ).scalars()
    events = (
        await db_session.execute(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        )
    ).scalars()
    line_list = [CaseLineOut.from_row(line) for line in lines]
    return CaseDetail.from_row(
        case,
        date=case.business_day,
        dossier_code=dossier.dossier_code if dossier else None,
        channel_txn_ids=sorted(line.channel_txn_id for line in line_list),
        linked_dossier_code=linked.dossier_code if linked else None,
        dossier=(
            {
                "dossier_code": dossier.dossier_code,
                "procedure_code": dossier.procedure_code,
                "procedure_name": dossier.procedure_name,
                "applicant": dossier.applicant,
                "fee_amount": dossier.fee_amount,
                "state": dossier.state,
            }
            if dossier
            else None
        ),
        lines=line_list,
        history=[
            CaseEventOut.from_row(event, changes=msgspec.json.decode(event.changes))
            for event in events
        ],
    )


async def get_case_list(*, db_session: AsyncSession, case_ids: Sequence[int]) -> CaseList:
    """Several cases in full, in the order named (what a bulk action answers)."""
    return CaseList(cases=[await get_case(db_session=db_session, case_id=i) for i in case_ids])
