"""Quick reads (recon/db/reads.py): on a SQLite file the hot routes' reads run on a plain sqlite3
connection in the loop's thread; they must give what SQLAlchemy gives, see every commit, never
wait for a writer, and write nothing. Elsewhere the same read function runs in a session."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import bindparam, exists, func, insert, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncEngine

from recon.db.models import Case, ChannelDay, Dossier, table
from recon.db.reads import ConnectionReader, QuickReads, Reader, SqliteReader
from recon.db.session import create_engine, sqlite_file

DAY = date(2025, 11, 24)
AT = datetime(2025, 11, 24, 18, 31, 7, 250_000, tzinfo=UTC)

# every kind of value the hot reads convert: dates, aware times, booleans (EXISTS, literals),
# an aggregate of a time column, an expanding parameter used twice, NULL
DAYS = union_all(
    select(
        ChannelDay.channel,
        ChannelDay.business_day,
        ChannelDay.reconciled_at,
        literal(True).label("first"),
        exists().where(Case.channel == ChannelDay.channel).label("has_case"),
        select(func.max(ChannelDay.reconciled_at)).scalar_subquery().label("latest"),
    ).where(ChannelDay.business_day.in_(bindparam("days", expanding=True))),
    select(
        ChannelDay.channel,
        ChannelDay.business_day,
        ChannelDay.reconciled_at,
        literal(False),
        literal(False),
        literal(None),
    ).where(
        ChannelDay.business_day.in_(bindparam("days", expanding=True)),
        ChannelDay.channel == bindparam("channel"),
    ),
)
CODES = select(Dossier.dossier_code).where(Dossier.code_key.in_(bindparam("keys", expanding=True)))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(
            insert(table(ChannelDay)),
            [
                {"channel": "momo", "business_day": DAY, "reconciled_at": AT},
                {"channel": "bank", "business_day": date(2025, 11, 25), "reconciled_at": None},
            ],
        )
    yield engine
    await engine.dispose()


def rows_of(reader: Reader, days: list[date], channel: str = "bank") -> list[tuple[Any, ...]]:
    return sorted(
        (tuple(row) for row in reader.all(DAYS, {"days": days, "channel": channel})),
        key=repr,
    )


async def test_the_same_rows_as_sqlalchemy_gives(engine: AsyncEngine) -> None:
    days = [DAY, date(2025, 11, 25), date(2025, 1, 1)]
    async with engine.connect() as connection:
        expected = await connection.run_sync(lambda c: rows_of(ConnectionReader(c), days))
    reads = QuickReads(engine)
    try:
        got = await reads.run(rows_of, days)
        # by attribute too, as the read functions use them
        first = await reads.run(lambda r: r.all(DAYS, {"days": [DAY], "channel": "x"})[0])
    finally:
        reads.dispose()
    assert got == expected
    assert ("momo", DAY, AT, True, False, AT) in got
    assert ("bank", date(2025, 11, 25), None, False, False, None) in got
    assert (first.channel, first.business_day, first.reconciled_at, first.first) == (
        "momo",
        DAY,
        AT,
        True,
    )
    assert first.reconciled_at.tzinfo is not None


async def test_a_list_of_any_length_and_an_empty_one(engine: AsyncEngine) -> None:
    reads = QuickReads(engine)
    try:
        for n in (0, 1, 2, 999):
            days = [date(2020, 1, 1)] * (n - 1) + [DAY] if n else []
            rows = await reads.run(lambda r, d: r.all(DAYS, {"days": d, "channel": "-"}), days)
            assert len(rows) == (1 if n else 0)
    finally:
        reads.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sqlite_reads_run_in_the_loop_thread_on_their_own_connection(
    engine: AsyncEngine,
) -> None:
    reads = QuickReads(engine)
    try:
        assert reads.in_loop_thread
        readers: list[Reader] = []
        await reads.run(readers.append)
        assert isinstance(readers[0], SqliteReader)
    finally:
        reads.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_reader_sees_each_commit_and_never_waits_for_a_writer(engine: AsyncEngine) -> None:
    reads = QuickReads(engine)
    path = sqlite_file(engine.url)
    assert path is not None
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        count = select(func.count()).select_from(ChannelDay)
        assert await reads.run(lambda r: r.all(count)[0][0]) == 2
        # a writer holds the write lock with an uncommitted row: the reader neither waits
        # (its busy timeout would show as a delay or an error) nor sees the row
        writer.execute("BEGIN IMMEDIATE")
        writer.execute(
            "INSERT INTO channel_days (channel, business_day) VALUES ('portal', '2025-11-26')"
        )
        started = asyncio.get_running_loop().time()
        assert await reads.run(lambda r: r.all(count)[0][0]) == 2
        assert asyncio.get_running_loop().time() - started < 0.5
        writer.execute("COMMIT")
        assert await reads.run(lambda r: r.all(count)[0][0]) == 3
    finally:
        writer.close()
        reads.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_quick_connection_writes_nothing(engine: AsyncEngine) -> None:
    reads = QuickReads(engine)

    def write(reader: Reader) -> None:
        assert isinstance(reader, SqliteReader)
        reader._connection.execute("DELETE FROM channel_days")

    try:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            await reads.run(write)
        # and a failed read leaves the connection usable, outside any transaction
        count = select(func.count()).select_from(ChannelDay)
        assert await reads.run(lambda r: r.all(count)[0][0]) == 2
    finally:
        reads.dispose()


async def test_codes_not_there_give_no_rows(engine: AsyncEngine) -> None:
    reads = QuickReads(engine)
    try:
        assert await reads.run(lambda r: r.all(CODES, {"keys": ["H17.25-X"]})) == []
    finally:
        reads.dispose()
