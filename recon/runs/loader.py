"""What a run of day D hands the engine (DESIGN 4, "Re-running is idempotent").

Lines judged now: the day's lines, D−1's pending lines, and the lines of every live case about
a line. Dossiers judged now: those lines' dossiers (new and previous), claims on D and D−1, and
dossiers changed since the last run. Every line of a judged dossier comes along, fixed to its
stored match, so its net is whole. Candidate dossiers for rules 1–3 are found in SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.chunks import chunks
from recon.db.models import (
    LIVE_CASE_STATUSES,
    Case,
    CaseLine,
    ChannelDay,
    ChannelFetch,
    Dossier,
    DossierPaymentRef,
    Match,
    StatementLineRow,
)
from recon.matching.normalize import code_key, normalise_text
from recon.matching.resolve import MIN_SEARCHED_CODE, DossierIndex, resolve_payment
from recon.matching.types import ControlMismatch
from recon.matching.types import Dossier as EngineDossier
from recon.matching.types import Line as EngineLine

BIG_CHUNK = 10_000  # IN lists of candidate codes: fewer round trips
LINE_CASE_TYPES = (
    "UNMATCHED_PAYMENT",
    "AMBIGUOUS_REFERENCE",
    "UNMATCHED_REFUND",
    "STATUS_CONFLICT",
)


def to_engine_line(
    row: StatementLineRow, fixed_to: int | None = None, fixed: bool = False
) -> EngineLine:
    return EngineLine(
        id=row.id,
        channel=row.channel,
        txn_id=row.channel_txn_id,
        amount=row.amount,
        kind=row.kind,
        status=row.status,
        paid_at=row.paid_at,
        day=row.business_day,
        order_ref=row.order_ref,
        hint=row.dossier_hint,
        refund_of=row.refund_of,
        text=row.description,
        fee=row.fee,
        fixed_dossier_id=fixed_to,
        fixed=fixed,
    )


async def lines_to_judge(
    session: AsyncSession, day: date, channels: Sequence[str]
) -> list[StatementLineRow]:
    live_line_cases = (
        select(CaseLine.line_id)
        .join(Case, Case.id == CaseLine.case_id)
        .where(Case.status.in_(LIVE_CASE_STATUSES), Case.type.in_(LINE_CASE_TYPES))
    )
    query = select(StatementLineRow).where(
        or_(
            and_(StatementLineRow.business_day == day, StatementLineRow.channel.in_(channels)),
            and_(
                StatementLineRow.business_day == day - timedelta(days=1),
                StatementLineRow.status == "pending",
            ),
            StatementLineRow.id.in_(live_line_cases),
        )
    )
    return list((await session.execute(query)).scalars())


async def refunded_payments(
    session: AsyncSession, refunds: Sequence[StatementLineRow], known: set[int]
) -> list[StatementLineRow]:
    """The payments the refunds net against, wherever they were stored."""
    conditions: list[ColumnElement[bool]] = []
    for refund in refunds:
        if refund.refund_of:
            conditions.append(
                and_(
                    StatementLineRow.channel == refund.channel,
                    StatementLineRow.channel_txn_id == refund.refund_of,
                )
            )
        elif refund.order_ref_key:
            conditions.append(
                and_(
                    StatementLineRow.channel == refund.channel,
                    StatementLineRow.order_ref_key == refund.order_ref_key,
                    StatementLineRow.kind == "payment",
                )
            )
    found: list[StatementLineRow] = []
    for part in chunks(conditions, 200):
        rows = (await session.execute(select(StatementLineRow).where(or_(*part)))).scalars()
        found.extend(row for row in rows if row.id not in known)
    return found


async def candidate_dossier_ids(
    session: AsyncSession, lines: Sequence[StatementLineRow]
) -> set[int]:
    """Dossiers any of rules 1–3 could pick for these lines."""
    ref_keys = sorted({row.order_ref_key for row in lines if row.order_ref_key})
    code_keys = sorted(
        {code_key(text) for row in lines for text in (row.order_ref, row.dossier_hint) if text}
        - {""}
    )
    ids: set[int] = set()
    for part in chunks(ref_keys):
        query = select(DossierPaymentRef.dossier_id).where(DossierPaymentRef.ref_key.in_(part))
        ids.update((await session.execute(query)).scalars())
    for part in chunks(code_keys):
        ids.update(
            (await session.execute(select(Dossier.id).where(Dossier.code_key.in_(part)))).scalars()
        )
    # rule 3 only for lines rules 1 and 2 leave open: their texts' substrings of code length
    lengths = [
        n
        for n in (await session.execute(select(func.length(Dossier.code_key)).distinct())).scalars()
        if n and n >= MIN_SEARCHED_CODE
    ]
    index = DossierIndex(await load_dossiers(session, ids))
    pieces: set[str] = set()
    for row in lines:
        if row.kind != "payment":
            continue
        if resolve_payment(to_engine_line(row), index).rule in ("payment_ref", "dossier_code"):
            continue
        text = normalise_text(" ".join(t for t in (row.order_ref, row.description) if t))
        for n in lengths:
            pieces.update(text[i : i + n] for i in range(len(text) - n + 1))
    for part in chunks(sorted(pieces), BIG_CHUNK):
        ids.update(
            (await session.execute(select(Dossier.id).where(Dossier.code_key.in_(part)))).scalars()
        )
    return ids


async def load_dossiers(session: AsyncSession, ids: Iterable[int]) -> list[EngineDossier]:
    wanted = sorted(set(ids))
    refs: dict[int, list[str]] = {}
    rows: list[Dossier] = []
    for part in chunks(wanted):
        rows.extend((await session.execute(select(Dossier).where(Dossier.id.in_(part)))).scalars())
        for dossier_id, key in await session.execute(
            select(DossierPaymentRef.dossier_id, DossierPaymentRef.ref_key)
            .where(DossierPaymentRef.dossier_id.in_(part))
            .order_by(DossierPaymentRef.id)
        ):
            refs.setdefault(dossier_id, []).append(key)
    return [
        EngineDossier(
            id=row.id,
            code=row.dossier_code,
            code_key=row.code_key,
            fee=row.fee_amount,
            state=row.state,
            ref_keys=tuple(refs.get(row.id, ())),
            claim_channel=row.claimed_paid_channel,
            claim_day=row.claimed_paid_day,
            claim_txn_id=row.claimed_channel_txn_id,
        )
        for row in rows
    ]


async def stored_matches(session: AsyncSession, line_ids: Sequence[int]) -> dict[int, Match]:
    found: dict[int, Match] = {}
    for part in chunks(list(line_ids)):
        for match in (
            await session.execute(select(Match).where(Match.line_id.in_(part)))
        ).scalars():
            found[match.line_id] = match
    return found


async def dossiers_to_judge(session: AsyncSession, day: date, since: datetime | None) -> set[int]:
    """Claims on D and D−1, and dossiers changed since the last run that have anything to judge."""
    claims = select(Dossier.id).where(Dossier.claimed_paid_day.in_([day, day - timedelta(days=1)]))
    ids = set((await session.execute(claims)).scalars())
    if since is not None:
        changed = select(Dossier.id).where(Dossier.updated_at > since)
    else:
        changed = select(Dossier.id)
    has_something = or_(
        Dossier.claimed_paid_channel.is_not(None),
        Dossier.id.in_(select(Match.dossier_id)),
        Dossier.id.in_(select(Case.dossier_id).where(Case.status.in_(LIVE_CASE_STATUSES))),
    )
    ids.update((await session.execute(changed.where(has_something))).scalars())
    return ids


async def lines_of_dossiers(
    session: AsyncSession, dossier_ids: Iterable[int], skip: set[int]
) -> list[tuple[StatementLineRow, int]]:
    found: list[tuple[StatementLineRow, int]] = []
    for part in chunks(sorted(set(dossier_ids))):
        query = (
            select(StatementLineRow, Match.dossier_id)
            .join(Match, Match.line_id == StatementLineRow.id)
            .where(Match.dossier_id.in_(part))
        )
        for row, dossier_id in await session.execute(query):
            if row.id not in skip:
                found.append((row, dossier_id))
    return found


async def claimed_lines(
    session: AsyncSession, dossiers: Sequence[EngineDossier], skip: set[int]
) -> list[StatementLineRow]:
    """Lines a claim names by transaction id, wherever they resolved."""
    wanted = [
        (d.claim_channel, d.claim_txn_id) for d in dossiers if d.claim_channel and d.claim_txn_id
    ]
    found: list[StatementLineRow] = []
    for part in chunks(wanted, 200):
        conditions = [
            and_(StatementLineRow.channel == c, StatementLineRow.channel_txn_id == t)
            for c, t in part
        ]
        rows = (await session.execute(select(StatementLineRow).where(or_(*conditions)))).scalars()
        found.extend(row for row in rows if row.id not in skip)
    return found


async def pulled_channel_days(
    session: AsyncSession, file_fed: Sequence[str], reconciling: date
) -> frozenset[tuple[str, date]]:
    """Channel-days whose statement is in: pulled, or (file-fed) reconciled or being so now."""
    rows = await session.execute(
        select(
            ChannelDay.channel,
            ChannelDay.business_day,
            ChannelDay.fetch_status,
            ChannelDay.reconciled_at,
        )
    )
    pulled = {
        (channel, day)
        for channel, day, status, reconciled in rows
        if (channel in file_fed and reconciled is not None)
        or (channel not in file_fed and status == "succeeded")
    }
    pulled.update((channel, reconciling) for channel in file_fed)
    return frozenset(pulled)


async def control_mismatches(
    session: AsyncSession, day: date, channels: Sequence[str]
) -> list[ControlMismatch]:
    """Channel-days of D whose latest pull failed on the channel's own control totals."""
    query = (
        select(ChannelFetch)
        .join(ChannelDay, ChannelDay.last_fetch_id == ChannelFetch.id)
        .where(
            ChannelDay.business_day == day,
            ChannelDay.channel.in_(channels),
            ChannelDay.fetch_status == "failed",
            ChannelFetch.control_count.is_not(None),
        )
    )
    return [
        ControlMismatch(
            channel=fetch.channel,
            day=day,
            expected_count=fetch.control_count,
            expected_amount=fetch.control_amount,
            received_count=fetch.received_count,
            received_amount=fetch.received_amount,
        )
        for fetch in (await session.execute(query)).scalars()
    ]
