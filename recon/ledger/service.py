"""The daily ledger (DESIGN 5), computed by SQL aggregates; closed days from their snapshot.

Every figure counts successful lines only; settlements (the channels paying the ward) count in
no payment figure. Matched and unmatched split the successful payments by whether they resolved
to a dossier, whatever case follows. A range's totals are the sums of its days.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.models import Case, LedgerDay, StatementLineRow
from recon.domain import each_day
from recon.errors import BadInput, FieldError
from recon.ledger.schemas import Ledger, LedgerFigures, LedgerRow
from recon.settings import Settings
from recon.vocab import LIVE_CASE_STATUSES

MAX_RANGE_DAYS = 3 * 366


def check_range(start: date, end: date, *, names: tuple[str, str] = ("from", "to")) -> None:
    """A ledger's range: `end` not before `start`, at most MAX_RANGE_DAYS days. `names` are
    the caller's words for the two bounds (query parameters, or the CLI's `--from`/`--to`)."""
    first, last = names
    if end < start:
        reason = f"{end.isoformat()} is before {first} {start.isoformat()}"
        raise BadInput(f"{last} {reason}", [FieldError(last, reason)])
    if (end - start).days >= MAX_RANGE_DAYS:
        reason = f"a ledger covers at most {MAX_RANGE_DAYS} days"
        raise BadInput(reason, [FieldError(last, reason)])


async def computed_rows(
    session: AsyncSession,
    start: date,
    end: date,
    channels: Sequence[str],
    skip_days: Sequence[date] = (),
) -> dict[tuple[date, str], LedgerFigures]:
    """Live figures per (day, channel) that had anything; zeros are filled in by the caller.

    One pass groups the successful lines by day, channel, kind and whether they matched, with
    plain sums (no CASE per row, no join: each line carries its `matched` bit), on a covering
    index in the grouping's order; Python folds the groups into figures.
    """
    line = StatementLineRow
    query = (
        select(
            line.business_day,
            line.channel,
            line.kind,
            line.matched,
            func.count(),
            func.sum(line.amount),
            func.sum(line.fee),
        )
        .where(
            line.business_day.between(start, end),
            line.channel.in_(channels),
            line.status == "success",
            line.kind.in_(("payment", "refund")),
        )
        .group_by(line.business_day, line.channel, line.kind, line.matched)
    )
    if skip_days:  # closed days come from their snapshot
        query = query.where(line.business_day.not_in(list(skip_days)))
    figures: dict[tuple[date, str], LedgerFigures] = {}
    for day, channel, kind, is_matched, count, amount, fee in await session.execute(query):
        row = figures.setdefault((day, channel), LedgerFigures())
        count, amount, fee = int(count), int(amount or 0), int(fee or 0)
        row.fees += fee
        if kind == "refund":
            row.refunds_count += count
            row.refunds_amount += amount
            continue
        row.payments_count += count
        row.payments_amount += amount
        if is_matched:
            row.matched_count += count
            row.matched_amount += amount
        else:
            row.unmatched_count += count
            row.unmatched_amount += amount
    for row in figures.values():
        row.net = row.payments_amount - row.refunds_amount - row.fees
    cases = (
        select(Case.business_day, Case.channel, Case.type, func.count())
        .where(
            Case.status.in_(LIVE_CASE_STATUSES),
            Case.business_day.between(start, end),
            Case.channel.in_(channels),
        )
        .group_by(Case.business_day, Case.channel, Case.type)
    )
    for case_day, case_channel, case_type, count in await session.execute(cases):
        found = figures.setdefault((case_day, case_channel or ""), LedgerFigures())
        found.open_cases[case_type] = int(count)
    for found in figures.values():
        found.open_cases = dict(sorted(found.open_cases.items()))
    return figures


async def closed_snapshots(
    session: AsyncSession, start: date, end: date
) -> dict[date, dict[str, LedgerFigures]]:
    query = select(LedgerDay.business_day, LedgerDay.snapshot).where(
        LedgerDay.business_day.between(start, end),
        LedgerDay.status == "closed",
        LedgerDay.snapshot.is_not(None),
    )
    return {
        day: msgspec.json.decode(snapshot, type=dict[str, LedgerFigures])
        for day, snapshot in await session.execute(query)
        if snapshot
    }


async def build_ledger(
    *, db_session: AsyncSession, start: date, end: date, channels: Sequence[str]
) -> Ledger:
    check_range(start, end)
    frozen = await closed_snapshots(db_session, start, end)
    live = await computed_rows(db_session, start, end, channels, skip_days=sorted(frozen))
    rows: list[LedgerRow] = []
    totals = {name: LedgerFigures() for name in channels}
    totals["all"] = LedgerFigures()
    for day in each_day(start, end):
        for name in channels:
            snapshot = frozen.get(day)
            figures = (
                snapshot.get(name, LedgerFigures())
                if snapshot is not None
                else live.get((day, name), LedgerFigures())
            )
            row = LedgerRow(
                date=day,
                channel=name,
                closed=snapshot is not None,
                **msgspec.structs.asdict(figures),
            )
            rows.append(row)
            totals[name].add(figures)
            totals["all"].add(figures)
    return Ledger(from_=start, to=end, rows=rows, totals=totals)


async def snapshot_of_day(
    session: AsyncSession, day: date, channels: Sequence[str]
) -> dict[str, LedgerFigures]:
    """The figures frozen when a day is closed."""
    live = await computed_rows(session, day, day, channels)
    return {name: live.get((day, name), LedgerFigures()) for name in channels}


def ledger_channels(settings: Settings, channel: str | None) -> list[str]:
    """The channels a ledger covers: every configured one, or the one asked for."""
    names = settings.channel_names()
    if channel is None:
        return names
    if channel not in names:
        reason = f"unknown channel {channel!r} (channels: {', '.join(names) or 'none'})"
        raise BadInput(reason, [FieldError("channel", reason)])
    return [channel]
