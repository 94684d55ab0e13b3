"""Payment status of dossiers, for other services (DESIGN 6 and 8): six indexed queries
whatever the number of codes and of lines, read as plain rows (no ORM objects on this path).

A dossier's lines are those matched to it, plus those a pull stored on a day not reconciled
yet that name it plainly: by one of its payment refs (the channel's order id) or by its code
(the portal's `maHoSo`). So a payment made by app shows as `PENDING` minutes after a daytime
pull, before any run; the run then decides (a line it matched elsewhere leaves the dossier).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.models import Case, ChannelDay, Dossier, DossierPaymentRef, Match, StatementLineRow
from recon.matching.normalize import code_key
from recon.payments.schemas import PaymentOut, TransactionOut
from recon.payments.status import Txn, latest_channel, net_paid, payment_status
from recon.vocab import LIVE_CASE_STATUSES

LINE = StatementLineRow
LINE_COLUMNS = (
    LINE.id,
    LINE.channel,
    LINE.channel_txn_id,
    LINE.kind,
    LINE.status,
    LINE.amount,
    LINE.paid_at,
    LINE.business_day,
)
DOSSIER_COLUMNS = (
    Dossier.id,
    Dossier.dossier_code,
    Dossier.code_key,
    Dossier.fee_amount,
    Dossier.state,
)
ChannelDayKey = tuple[str, date]


async def payments(
    *, db_session: AsyncSession, codes: Sequence[str]
) -> tuple[list[PaymentOut], list[str]]:
    """The payments of the dossiers `codes` name (compared as dossier codes are: letter case,
    spaces and punctuation aside), each once in the order first asked; and the codes that name
    no dossier, as given."""
    keys: dict[str, str] = {}  # code_key -> the code as first given
    for code in codes:
        keys.setdefault(code_key(code), code)
    found = (
        await db_session.execute(
            select(
                Dossier.id,
                Dossier.dossier_code,
                Dossier.code_key,
                Dossier.fee_amount,
                Dossier.state,
            ).where(Dossier.code_key.in_([key for key in keys if key]))
        )
    ).all()
    by_key = {row.code_key: row for row in found}
    unknown = [code for key, code in keys.items() if key not in by_key]
    if not found:
        return [], unknown
    ids = [row.id for row in found]
    matched, candidates = await _lines(db_session, found)
    days = {(line.channel, line.business_day) for rows in (matched, candidates) for _, line in rows}
    reconciled, latest = await _reconciled(db_session, days)
    lines: dict[int, list[Any]] = defaultdict(list)
    for owner, line in matched:
        lines[owner].append(line)
    seen = {line.id for _, line in matched}
    for owner, line in candidates:
        # a line the runs left unmatched on a reconciled day is not this dossier's
        if line.id not in seen and (line.channel, line.business_day) not in reconciled:
            lines[owner].append(line)
    disputed: set[int | None] = set(
        (
            await db_session.execute(
                select(Case.dossier_id)
                .where(Case.dossier_id.in_(ids), Case.status.in_(LIVE_CASE_STATUSES))
                .distinct()
            )
        ).scalars()
    )
    out = [
        _payment(by_key[key], lines.get(by_key[key].id, []), reconciled, latest, disputed)
        for key in keys
        if key in by_key
    ]
    return out, unknown


def _payment(
    dossier: Any,  # a row of DOSSIER_COLUMNS
    lines: list[Any],
    reconciled: dict[ChannelDayKey, datetime],
    latest: datetime | None,
    disputed: set[int | None],
) -> PaymentOut:
    txns = sorted(
        (
            Txn(
                channel=line.channel,
                channel_txn_id=line.channel_txn_id,
                kind=line.kind,
                status=line.status,
                amount=line.amount,
                paid_at=line.paid_at,
                day=line.business_day,
                reconciled=(line.channel, line.business_day) in reconciled,
            )
            for line in lines
        ),
        key=lambda t: (t.paid_at, t.channel, t.channel_txn_id),
    )
    when = [reconciled[(t.channel, t.day)] for t in txns if t.reconciled]
    status = payment_status(
        fee=dossier.fee_amount, state=dossier.state, txns=txns, live_case=dossier.id in disputed
    )
    return PaymentOut(
        dossier_code=dossier.dossier_code,
        status=status,  # type: ignore[arg-type]
        fee_amount=dossier.fee_amount,
        paid_amount=net_paid(txns),
        channel=latest_channel(txns),
        transactions=[
            TransactionOut(
                channel=t.channel,
                channel_txn_id=t.channel_txn_id,
                kind=t.kind,
                status=t.status,
                amount=t.amount,
                paid_at=t.paid_at,
            )
            for t in txns
        ],
        reconciled=all(t.reconciled for t in txns),
        # the newest reconciliation of its lines' days; without lines, of any day
        last_reconciled_at=max(when) if when else (None if txns else latest),
    )


async def _lines(
    db_session: AsyncSession, dossiers: Sequence[Any]
) -> tuple[list[tuple[int, Any]], list[tuple[int, Any]]]:
    """(owner, line) pairs: the lines matched to the dossiers, and the unmatched lines that
    name one of them by a payment ref or by its code."""
    ids = [d.id for d in dossiers]
    matched = [
        (line.dossier_id, line)
        for line in await db_session.execute(
            select(Match.dossier_id, *LINE_COLUMNS)
            .join(LINE, LINE.id == Match.line_id)
            .where(Match.dossier_id.in_(ids))
        )
    ]
    refs = await db_session.execute(
        select(DossierPaymentRef.dossier_id, DossierPaymentRef.ref_key).where(
            DossierPaymentRef.dossier_id.in_(ids)
        )
    )
    owner_of_ref = {ref.ref_key: ref.dossier_id for ref in refs}
    owner_of_code = {d.dossier_code: d.id for d in dossiers}
    named: ColumnElement[bool] = LINE.dossier_hint.in_(list(owner_of_code))
    if owner_of_ref:
        named = or_(LINE.order_ref_key.in_(list(owner_of_ref)), named)
    candidates = []
    for line in await db_session.execute(
        select(LINE.order_ref_key, LINE.dossier_hint, *LINE_COLUMNS).where(
            named, LINE.matched.is_(False)
        )
    ):
        owner = owner_of_ref.get(line.order_ref_key or "") or owner_of_code.get(line.dossier_hint)
        if owner is not None:
            candidates.append((owner, line))
    return matched, candidates


async def _reconciled(
    db_session: AsyncSession, days: set[ChannelDayKey]
) -> tuple[dict[ChannelDayKey, datetime], datetime | None]:
    """When each of these channel-days was reconciled (absent: not yet), and the latest
    reconciliation of any channel-day (what a dossier without lines was last judged against)."""
    reconciled: dict[ChannelDayKey, datetime] = {}
    if days:
        rows = await db_session.execute(
            select(ChannelDay.channel, ChannelDay.business_day, ChannelDay.reconciled_at).where(
                ChannelDay.business_day.in_({day for _, day in days}),
                ChannelDay.reconciled_at.is_not(None),
            )
        )
        reconciled = {
            (row.channel, row.business_day): row.reconciled_at
            for row in rows
            if (row.channel, row.business_day) in days
        }
    latest = (await db_session.execute(select(func.max(ChannelDay.reconciled_at)))).scalar()
    return reconciled, latest
