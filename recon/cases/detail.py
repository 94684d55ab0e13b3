"""One case as its page shows it: the lines with their raw payload, the dossier with its fee
and history, the case's history, and for an owner-less payment the likeliest dossiers.

Core selects of the needed columns, each by an index: the case joined to its dossiers, its
lines, its events, its dossier's history; the candidates come from three bounded lookups (codes
the texts name, by `code_key`; dossiers of the same fee submitted within a month before, by
fee and submission; dossiers of that fee claiming a payment within a day, by claimed day) and
one grouped sum of what each already received, then `rank_candidates` orders them.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import msgspec
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from recon.cases.candidates import DossierFacts, PaymentClue, Ranked, rank_candidates
from recon.db.models import (
    Case,
    CaseEvent,
    CaseLine,
    Dossier,
    DossierHistory,
    Match,
    StatementLineRow,
)
from recon.domain import MAX_ID
from recon.errors import FieldError, NotFound
from recon.matching.normalize import code_key
from recon.vocab import LIVE_CASE_STATUSES

OWNERLESS_TYPES = ("UNMATCHED_PAYMENT", "AMBIGUOUS_REFERENCE")
NEAR = timedelta(days=30)  # a dossier is paid within a month of its submission, or later
PER_LOOKUP = 50  # candidates each lookup may bring
MIN_CODE = 6  # shorter words are not searched as codes (as rule 3)
MAX_WORDS = 200


class LineView(msgspec.Struct, kw_only=True):
    channel: str
    channel_txn_id: str
    order_ref: str | None
    kind: str
    status: str
    amount: int
    fee: int
    paid_at: datetime
    business_day: date
    description: str
    payer: str | None
    raw: str  # the channel's payload, indented


class EventView(msgspec.Struct, kw_only=True):
    at: datetime
    actor: str | None  # None: the engine
    action: str
    from_status: str | None
    to_status: str
    resolution: str | None
    dossier_code: str | None
    note: str


class DossierView(msgspec.Struct, kw_only=True):
    dossier_code: str
    procedure_code: str
    procedure_name: str
    applicant: str
    fee_amount: int
    state: str
    submitted_at: datetime


class DossierChange(msgspec.Struct, kw_only=True):
    changed_at: datetime
    source: str
    actor: str
    change: str
    fee_before: int | None
    fee_after: int
    state_before: str | None
    state_after: str


class CaseView(msgspec.Struct, kw_only=True):
    id: int
    type: str
    status: str
    live: bool
    date: date
    channel: str | None
    expected_amount: int | None
    actual_amount: int | None
    rule: str
    explanation: str
    resolution: str | None
    pending_resolution: str | None
    pending_by: str | None  # who asked for the pending write-off
    close_reason: str | None
    linked_dossier_code: str | None
    dossier: DossierView | None
    dossier_history: list[DossierChange]
    lines: list[LineView]
    history: list[EventView]
    candidates: list[Ranked]


def _indented(raw: str) -> str:
    try:
        return json.dumps(json.loads(raw), ensure_ascii=False, indent=2, sort_keys=True)
    except ValueError:
        return raw


def code_keys_in(*texts: str) -> list[str]:
    """Keys a dossier code may have in the texts: each word, and two or three words joined
    (a code written with spaces inside), normalised; those long enough and with a digit."""
    parts = " ".join(texts).split()[:MAX_WORDS]
    keys: dict[str, None] = {}
    for size in (1, 2, 3):
        for start in range(len(parts) - size + 1):
            key = code_key("".join(parts[start : start + size]))
            if len(key) >= MIN_CODE and any(ch.isdigit() for ch in key):
                keys[key] = None
    return list(keys)


async def _lines(db_session: AsyncSession, case_id: int) -> list[LineView]:
    row = StatementLineRow
    query = (
        select(
            row.channel,
            row.channel_txn_id,
            row.order_ref,
            row.kind,
            row.status,
            row.amount,
            row.fee,
            row.paid_at,
            row.business_day,
            row.description,
            row.payer,
            row.raw,
        )
        .join(CaseLine, CaseLine.line_id == row.id)
        .where(CaseLine.case_id == case_id)
        .order_by(row.paid_at, row.id)
    )
    return [
        LineView(**{**r._asdict(), "raw": _indented(r.raw)})
        for r in await db_session.execute(query)
    ]


async def _history(db_session: AsyncSession, case_id: int) -> list[EventView]:
    e = CaseEvent
    query = (
        select(
            e.at,
            e.actor,
            e.action,
            e.from_status,
            e.to_status,
            e.resolution,
            e.dossier_code,
            e.note,
        )
        .where(e.case_id == case_id)
        .order_by(e.id)
    )
    return [EventView(**r._asdict()) for r in await db_session.execute(query)]


async def _dossier_history(db_session: AsyncSession, dossier_id: int) -> list[DossierChange]:
    h = DossierHistory
    query = (
        select(
            h.changed_at,
            h.source,
            h.actor,
            h.change,
            h.fee_before,
            h.fee_after,
            h.state_before,
            h.state_after,
        )
        .where(h.dossier_id == dossier_id)
        .order_by(h.id)
    )
    return [DossierChange(**r._asdict()) for r in await db_session.execute(query)]


FACT_COLUMNS = (
    Dossier.id,
    Dossier.dossier_code,
    Dossier.fee_amount,
    Dossier.state,
    Dossier.submitted_at,
    Dossier.applicant,
    Dossier.procedure_name,
    Dossier.claimed_paid_at,
    Dossier.claimed_paid_channel,
)


async def _candidates(db_session: AsyncSession, line: LineView, explanation: str) -> list[Ranked]:
    """The likeliest owners of an owner-less line: each lookup bounded, then ranked."""
    lookups = []
    keys = code_keys_in(line.description, line.order_ref or "", explanation)
    if keys:
        lookups.append(select(*FACT_COLUMNS).where(Dossier.code_key.in_(keys)).limit(PER_LOOKUP))
    same_fee = Dossier.fee_amount == line.amount
    lookups.append(
        select(*FACT_COLUMNS)
        .where(
            same_fee,
            Dossier.submitted_at >= line.paid_at - NEAR,
            Dossier.submitted_at <= line.paid_at + timedelta(days=1),
        )
        .order_by(Dossier.submitted_at.desc())
        .limit(PER_LOOKUP)
    )
    lookups.append(
        select(*FACT_COLUMNS)
        .where(
            Dossier.claimed_paid_day.between(
                line.business_day - timedelta(days=1), line.business_day + timedelta(days=1)
            ),
            same_fee,
        )
        .limit(PER_LOOKUP)
    )
    found: dict[int, dict[str, object]] = {}
    for lookup in lookups:
        for r in await db_session.execute(lookup):
            found.setdefault(r.id, r._asdict())
    if not found:
        return []
    paid: dict[int, int] = {}
    signed = case((StatementLineRow.kind == "refund", -StatementLineRow.amount), else_=0)
    net = func.sum(
        case((StatementLineRow.kind == "payment", StatementLineRow.amount), else_=signed)
    )
    sums = (
        select(Match.dossier_id, net)
        .join(StatementLineRow, StatementLineRow.id == Match.line_id)
        .where(Match.dossier_id.in_(list(found)), StatementLineRow.status == "success")
        .group_by(Match.dossier_id)
    )
    for dossier_id, amount in await db_session.execute(sums):
        paid[dossier_id] = int(amount or 0)
    facts = [
        DossierFacts(**{k: v for k, v in r.items() if k != "id"}, paid_amount=paid.get(i, 0))  # type: ignore[arg-type]
        for i, r in found.items()
    ]
    clue = PaymentClue(
        amount=line.amount,
        paid_at=line.paid_at,
        channel=line.channel,
        text=" ".join(filter(None, (line.description, line.order_ref, line.payer))),
    )
    return rank_candidates(clue, facts)


async def case_view(*, db_session: AsyncSession, case_id: int) -> CaseView:
    linked = aliased(Dossier)
    query = (
        select(
            Case.id,
            Case.type,
            Case.status,
            Case.business_day,
            Case.channel,
            Case.expected_amount,
            Case.actual_amount,
            Case.rule,
            Case.explanation,
            Case.resolution,
            Case.pending_resolution,
            Case.pending_by,
            Case.close_reason,
            Case.dossier_id,
            linked.dossier_code.label("linked_code"),
            Dossier.dossier_code,
            Dossier.procedure_code,
            Dossier.procedure_name,
            Dossier.applicant,
            Dossier.fee_amount,
            Dossier.state,
            Dossier.submitted_at,
        )
        .select_from(Case)
        .outerjoin(Dossier, Dossier.id == Case.dossier_id)
        .outerjoin(linked, linked.id == Case.linked_dossier_id)
        .where(Case.id == case_id)
    )
    row = (await db_session.execute(query)).first() if 1 <= case_id <= MAX_ID else None
    if row is None:
        reason = f"no case with id {case_id}"
        raise NotFound(reason, [FieldError("case_id", reason)])
    lines = await _lines(db_session, case_id)
    history = await _history(db_session, case_id)
    dossier = None
    if row.dossier_id is not None:
        dossier = DossierView(
            dossier_code=row.dossier_code,
            procedure_code=row.procedure_code,
            procedure_name=row.procedure_name,
            applicant=row.applicant,
            fee_amount=row.fee_amount,
            state=row.state,
            submitted_at=row.submitted_at,
        )
    live = row.status in LIVE_CASE_STATUSES
    candidates: list[Ranked] = []
    if live and row.type in OWNERLESS_TYPES and lines:
        candidates = await _candidates(db_session, lines[0], row.explanation)
    return CaseView(
        id=row.id,
        type=row.type,
        status=row.status,
        live=live,
        date=row.business_day,
        channel=row.channel,
        expected_amount=row.expected_amount,
        actual_amount=row.actual_amount,
        rule=row.rule,
        explanation=row.explanation,
        resolution=row.resolution,
        pending_resolution=row.pending_resolution,
        pending_by=row.pending_by,
        close_reason=row.close_reason,
        linked_dossier_code=row.linked_code,
        dossier=dossier,
        dossier_history=(
            await _dossier_history(db_session, row.dossier_id) if row.dossier_id else []
        ),
        lines=lines,
        history=history,
        candidates=candidates,
    )
