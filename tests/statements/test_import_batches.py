"""A statement file is read and stored in batches, yet imports whole or not at all (DESIGN 2.4),
on SQLite and PostgreSQL. The batches here hold 3 lines, so every file spans several."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, insert, select

from recon.db.models import ChannelFetch, LedgerDay, StatementLineRow
from recon.db.session import open_database
from recon.errors import Conflict
from recon.rows import ImportSummary
from recon.settings import Settings
from recon.statements.imports import import_statement_bytes

HEADER = "channel_txn_id,order_ref,amount,fee,kind,status,paid_at,description,payer"
BATCH = 3


def line(n: int, *, day: int = 24, amount: str = "15.000", txn: str | None = None) -> str:
    txn = txn or f"T{n:03d}"
    return f"{txn},MM{n:03d},{amount},0,payment,success,2025-11-{day}T10:00:00+07:00,x,0901234567"


async def load(settings: Settings, *lines: str) -> ImportSummary:
    data = ("\n".join([HEADER, *lines]) + "\n").encode()
    async with open_database(settings.database_url) as sessionmaker:
        return await import_statement_bytes(
            sessionmaker=sessionmaker,
            settings=settings,
            channel="momo",
            name="statement.csv",
            data=data,
            batch_size=BATCH,
        )


async def stored(settings: Settings) -> tuple[int, list[tuple[date | None, int]]]:
    """(lines stored, [(business day, lines) of each fetch record])."""
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
        count = (await s.execute(select(func.count()).select_from(StatementLineRow))).scalar_one()
        fetches = await s.execute(
            select(ChannelFetch.business_day, ChannelFetch.lines).order_by(ChannelFetch.id)
        )
        return count, [(day, lines) for day, lines in fetches]


async def test_a_file_of_many_batches_stores_every_line_once(settings: Settings) -> None:
    lines = [line(n) for n in range(1, 11)]
    first = await load(settings, *lines)
    assert (first.received, first.inserted, first.duplicates, first.rejected) == (10, 10, 0, [])
    again = await load(settings, *lines)
    assert (again.received, again.inserted, again.duplicates) == (10, 0, 10)
    # the fetch record learns the file's one business day at the end
    assert await stored(settings) == (10, [(date(2025, 11, 24), 10), (date(2025, 11, 24), 10)])


async def test_a_file_of_no_lines_is_a_fetch_of_no_lines(settings: Settings) -> None:
    summary = await load(settings)
    assert (summary.received, summary.inserted, summary.rejected) == (0, 0, [])
    assert await stored(settings) == (0, [(None, 0)])


async def test_a_file_over_several_days_has_no_single_day(settings: Settings) -> None:
    lines = [line(n, day=24 + n % 2) for n in range(1, 8)]
    assert (await load(settings, *lines)).inserted == 7
    assert await stored(settings) == (7, [(None, 7)])


async def test_a_bad_row_after_the_first_batch_stores_nothing(settings: Settings) -> None:
    lines = [line(n) for n in range(1, 9)] + [line(9, amount="0")]
    summary = await load(settings, *lines)
    assert (summary.received, summary.inserted) == (9, 0)
    assert [(r.row, r.column) for r in summary.rejected] == [(10, "amount")]
    assert await stored(settings) == (0, [])


async def test_every_bad_row_of_every_batch_is_reported(settings: Settings) -> None:
    lines = [line(n) for n in range(1, 12)]
    lines[1] = line(2, amount="-5")
    lines[5] = lines[5].replace("payment", "gift")
    lines[10] = line(11, amount="1.5")
    summary = await load(settings, *lines)
    assert summary.received == 11
    assert [(r.row, r.column) for r in summary.rejected] == [
        (3, "amount"),
        (7, "kind"),
        (12, "amount"),
    ]
    assert await stored(settings) == (0, [])


async def test_a_txn_id_in_two_batches_rejects_the_file(settings: Settings) -> None:
    lines = [line(n) for n in range(1, 9)] + [line(9, txn="T002")]
    summary = await load(settings, *lines)
    assert [(r.row, r.column, r.reason) for r in summary.rejected] == [
        (10, "channel_txn_id", "channel_txn_id 'T002' also on row 3")
    ]
    assert await stored(settings) == (0, [])


async def test_a_closed_day_in_a_later_batch_refuses_the_whole_file(settings: Settings) -> None:
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
        await s.execute(
            insert(LedgerDay), [{"business_day": date(2025, 11, 25), "status": "closed"}]
        )
        await s.commit()
    lines = [line(n) for n in range(1, 8)] + [line(8, day=25)]
    with pytest.raises(Conflict, match="2025-11-25 is closed"):
        await load(settings, *lines)
    assert await stored(settings) == (0, [])


async def test_bad_rows_are_reported_before_a_closed_day(settings: Settings) -> None:
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
        await s.execute(
            insert(LedgerDay), [{"business_day": date(2025, 11, 24), "status": "closed"}]
        )
        await s.commit()
    summary = await load(settings, *(line(n) for n in range(1, 7)), line(7, amount="x"))
    assert [(r.row, r.column) for r in summary.rejected] == [(8, "amount")]
    assert await stored(settings) == (0, [])
