"""Payment status of dossiers, for other services (DESIGN 6 and 8): three indexed queries
whatever the number of codes and of lines (the dossiers with whether a case about them is
live; all their lines in one UNION; the days of those lines), built once, read as plain rows
(no ORM objects on this path).

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

from sqlalchemy import BindParameter, bindparam, exists, false, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.models import Case, ChannelDay, Dossier, DossierPaymentRef, Match, StatementLineRow
from recon.db.reads import ConnectionReader, Reader
from recon.matching.judge import net_of
from recon.matching.normalize import code_key
from recon.payments.schemas import PaymentOut, TransactionOut
from recon.payments.status import Txn, latest_channel, payment_status
from recon.vocab import LIVE_CASE_STATUSES

LINE = StatementLineRow
_LINE_COLUMNS = (
    LINE.id,
    LINE.channel,
    LINE.channel_txn_id,
    LINE.kind,
    LINE.status,
    LINE.amount,
    LINE.paid_at,
    LINE.business_day,
)
_IDS: BindParameter[int] = bindparam("ids", expanding=True)

DOSSIERS = select(
    Dossier.id,
    Dossier.dossier_code,
    Dossier.code_key,
    Dossier.fee_amount,
    Dossier.state,
    exists()
    .where(Case.dossier_id == Dossier.id, Case.status.in_(LIVE_CASE_STATUSES))
    .label("disputed"),
).where(Dossier.code_key.in_(bindparam("keys", expanding=True)))

# (owner, matched?, line): matched to the dossier; or, unmatched, naming one of its payment
# refs; or, unmatched, naming its code
LINES = union_all(
    select(Match.dossier_id.label("owner"), literal(True).label("is_matched"), *_LINE_COLUMNS)
    .join(LINE, LINE.id == Match.line_id)
    .where(Match.dossier_id.in_(_IDS)),
    select(DossierPaymentRef.dossier_id, literal(False), *_LINE_COLUMNS)
    .join(LINE, LINE.order_ref_key == DossierPaymentRef.ref_key)
    .where(DossierPaymentRef.dossier_id.in_(_IDS), LINE.matched == false()),
    select(Dossier.id, literal(False), *_LINE_COLUMNS)
    .join(LINE, LINE.dossier_hint == Dossier.dossier_code)
    .where(Dossier.id.in_(_IDS), LINE.matched == false()),
)

# the days' reconciliations, and the latest of any day (for a dossier without lines)
DAYS = select(
    ChannelDay.channel,
    ChannelDay.business_day,
    ChannelDay.reconciled_at,
    select(func.max(ChannelDay.reconciled_at)).scalar_subquery().label("latest"),
).where(
    ChannelDay.business_day.in_(bindparam("days", expanding=True)),
    ChannelDay.reconciled_at.is_not(None),
)
LATEST = select(func.max(ChannelDay.reconciled_at))
ChannelDayKey = tuple[str, date]


async def payments(
    *, db_session: AsyncSession, codes: Sequence[str]
) -> tuple[list[PaymentOut], list[str]]:
    """`read_payments` in a session of the caller's (the routes use `QuickReads` instead)."""
    return await db_session.run_sync(
        lambda session: read_payments(ConnectionReader(session.connection()), codes)
    )


def read_payments(reader: Reader, codes: Sequence[str]) -> tuple[list[PaymentOut], list[str]]:
    """The payments of the dossiers `codes` name (compared as dossier codes are: letter case,
    spaces and punctuation aside), each once in the order first asked; and the codes that name
    no dossier, as given."""
    keys: dict[str, str] = {}  # code_key -> the code as first given
    for code in codes:
        keys.setdefault(code_key(code), code)
    found = reader.all(DOSSIERS, {"keys": [k for k in keys if k]})
    by_key = {row.code_key: row for row in found}
    unknown = [code for key, code in keys.items() if key not in by_key]
    if not found:
        return [], unknown
    rows = reader.all(LINES, {"ids": [row.id for row in found]})
    days = {(line.channel, line.business_day) for line in rows}
    reconciled: dict[ChannelDayKey, datetime] = {}
    latest: datetime | None = None
    if days:
        for day in reader.all(DAYS, {"days": list({d for _, d in days})}):
            latest = day.latest
            if (day.channel, day.business_day) in days:
                reconciled[(day.channel, day.business_day)] = day.reconciled_at
    if latest is None:
        latest = reader.all(LATEST)[0][0]
    lines: dict[int, dict[int, Any]] = defaultdict(dict)  # owner -> line id -> line
    matched = {line.id for line in rows if line.is_matched}
    for line in rows:
        # an unmatched line is the dossier's only until a run judged its day (and it may name
        # the dossier twice: by a ref and by the code)
        if line.is_matched or (
            line.id not in matched and (line.channel, line.business_day) not in reconciled
        ):
            lines[line.owner][line.id] = line
    out = [
        _payment(by_key[key], list(lines[by_key[key].id].values()), reconciled, latest)
        for key in keys
        if key in by_key
    ]
    return out, unknown


def _payment(
    dossier: Any,  # a row of DOSSIER_COLUMNS
    lines: list[Any],
    reconciled: dict[ChannelDayKey, datetime],
    latest: datetime | None,
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
        fee=dossier.fee_amount, state=dossier.state, txns=txns, live_case=bool(dossier.disputed)
    )
    return PaymentOut(
        dossier_code=dossier.dossier_code,
        status=status,  # type: ignore[arg-type]
        fee_amount=dossier.fee_amount,
        paid_amount=net_of(txns),
        channel=latest_channel(txns),
        transactions=[TransactionOut.from_row(t) for t in txns],
        reconciled=all(t.reconciled for t in txns),
        # the newest reconciliation of its lines' days; without lines, of any day
        last_reconciled_at=max(when) if when else (None if txns else latest),
    )
