"""The daily ledger (DESIGN 5), computed by SQL aggregates; closed days from their snapshot.

Every figure counts successful lines only; settlements (the channels paying the ward) count in
no payment figure. Matched and unmatched split the successful payments by whether they resolved
to a dossier, whatever case follows. A range's totals are the sums of its days.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import msgspec
from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.models import LIVE_CASE_STATUSES, Case, LedgerDay, Match, StatementLineRow
from recon.errors import BadInput
from recon.ledger.schemas import Ledger, LedgerFigures, LedgerRow
from recon.settings import Settings

MAX_RANGE_DAYS = 3 * 366


def check_range(start: date, end: date) -> None:
    if end < start:
        raise BadInput(f"--to {end.isoformat()} is before --from {start.isoformat()}")
    if (end - start).days >= MAX_RANGE_DAYS:
        raise BadInput(f"a ledger covers at most {MAX_RANGE_DAYS} days")


async def computed_rows(
    session: AsyncSession, start: date, end: date, channels: Sequence[str]
) -> dict[tuple[date, str], LedgerFigures]:
    """Live figures per (day, channel) that had anything; zeros are filled in by the caller."""
    line = StatementLineRow
    payment = line.kind == "payment"
    refund = line.kind == "refund"
    matched = Match.id.is_not(None)

    def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.sum(case((condition, 1), else_=0))

    def amount_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.sum(case((condition, line.amount), else_=0))

    query = (
        select(
            line.business_day,
            line.channel,
            count_if(payment),
            amount_if(payment),
            count_if(refund),
            amount_if(refund),
            func.sum(line.fee),
            count_if(payment & matched),
            amount_if(payment & matched),
        )
        .outerjoin(Match, Match.line_id == line.id)
        .where(
            line.business_day.between(start, end),
            line.channel.in_(channels),
            line.status == "success",
            line.kind.in_(("payment", "refund")),
        )
        .group_by(line.business_day, line.channel)
    )
    figures: dict[tuple[date, str], LedgerFigures] = {}
    for day, channel, pc, pa, rc, ra, fees, mc, ma in await session.execute(query):
        pc, pa, rc, ra, fees, mc, ma = (int(v or 0) for v in (pc, pa, rc, ra, fees, mc, ma))
        figures[(day, channel)] = LedgerFigures(
            payments_count=pc,
            payments_amount=pa,
            refunds_count=rc,
            refunds_amount=ra,
            fees=fees,
            net=pa - ra - fees,
            matched_count=mc,
            matched_amount=ma,
            unmatched_count=pc - mc,
            unmatched_amount=pa - ma,
        )
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
    session: AsyncSession, start: date, end: date, channels: Sequence[str]
) -> Ledger:
    check_range(start, end)
    live = await computed_rows(session, start, end, channels)
    frozen = await closed_snapshots(session, start, end)
    rows: list[LedgerRow] = []
    totals = {name: LedgerFigures() for name in channels}
    totals["all"] = LedgerFigures()
    day = start
    while day <= end:
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
        day += timedelta(days=1)
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
        raise BadInput(f"unknown channel {channel!r} (channels: {', '.join(names) or 'none'})")
    return [channel]
