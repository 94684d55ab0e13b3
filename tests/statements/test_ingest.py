"""Storing statement lines and pulling channel-days, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.base import RetryPolicy
from recon.db.models import (
    ChannelDay,
    ChannelFetch,
    LedgerDay,
    LineStatusChange,
    StatementLineRow,
    table,
)
from recon.db.session import open_database
from recon.domain import StatementLine
from recon.errors import Conflict
from recon.settings import Settings, load_settings
from recon.statements.pull import pull_channel_day
from recon.statements.service import (
    _COLUMNS,
    LineStore,
    StoreCounts,
    store_lines,
)
from tests.adapters.conftest import MOMO_ACCESS_KEY, MOMO_BASE_URL, MOMO_SECRET_KEY
from tests.adapters.test_momo import STATEMENT, _day_pages, momo_server

NOW = datetime(2025, 11, 25, 1, 0, tzinfo=UTC)
DAY = date(2024, 11, 25)


def line(txn: str = "1", status: str = "success", **changes: Any) -> StatementLine:
    values: dict[str, Any] = {
        "channel": "momo",
        "channel_txn_id": txn,
        "amount": 15000,
        "fee": 0,
        "kind": "payment",
        "status": status,
        "paid_at": datetime(2025, 11, 24, 3, 0, tzinfo=UTC),
        "business_day": date(2025, 11, 24),
        "order_ref": "MM2411250001",
        "description": "Thanh toan phi ho so H17.25-241125-0042",
        "payer": "*******567",
        "raw": {"transId": int(txn), "resultCode": 0 if status == "success" else 1000},
    }
    values.update(changes)
    return StatementLine(**values)


@pytest.fixture
async def sessionmaker(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with open_database(database_url) as maker:
        yield maker


async def count(maker: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with maker() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_a_line_is_stored_once_and_seen_again_as_a_duplicate(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        first = await store_lines(
            session, [line("1"), line("2"), line("1")], fetch_id=None, now=NOW
        )
        await session.commit()
    assert (first.lines, first.inserted, first.duplicates) == (2, 2, 0)
    async with sessionmaker() as session:
        again = await store_lines(session, [line("1"), line("2")], fetch_id=None, now=NOW)
        await session.commit()
    assert (again.inserted, again.updated, again.duplicates) == (0, 0, 2)
    assert await count(sessionmaker, StatementLineRow) == 2
    async with sessionmaker() as session:
        stored = (await session.execute(select(StatementLineRow).limit(1))).scalar_one()
    assert json.loads(stored.raw)["transId"] == 1
    assert stored.order_ref_key == "MM2411250001"
    assert stored.amount == 15000


async def test_a_status_that_moves_forward_updates_the_line_and_records_the_change(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        await store_lines(session, [line("1", "pending")], fetch_id=None, now=NOW)
        await session.commit()
    async with sessionmaker() as session:
        moved = await store_lines(session, [line("1", "success")], fetch_id=None, now=NOW)
        await session.commit()
    assert (moved.updated, moved.duplicates) == (1, 0)
    async with sessionmaker() as session:
        back = await store_lines(session, [line("1", "pending")], fetch_id=None, now=NOW)
        reversed_ = await store_lines(session, [line("1", "reversed")], fetch_id=None, now=NOW)
        await session.commit()
    assert (back.updated, back.duplicates) == (0, 1)
    assert reversed_.updated == 1
    async with sessionmaker() as session:
        stored = (await session.execute(select(StatementLineRow.status))).scalar_one()
        changes = (
            await session.execute(
                select(LineStatusChange.status_before, LineStatusChange.status_after).order_by(
                    LineStatusChange.id
                )
            )
        ).all()
    assert stored == "reversed"
    assert [tuple(c) for c in changes] == [("pending", "success"), ("success", "reversed")]


async def test_a_line_again_later_in_the_same_delivery_is_one_line_the_later_wins(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        store = LineStore(session, fetch_id=None, now=NOW)
        await store.add([line("1", "pending"), line("2")])
        await store.add([line("1", "success", amount=16000), line("3")])
        await session.commit()
    assert store.counts == StoreCounts(lines=3, inserted=3, updated=0, duplicates=0)
    async with sessionmaker() as session:
        stored = (
            await session.execute(
                select(StatementLineRow).where(StatementLineRow.channel_txn_id == "1")
            )
        ).scalar_one()
        changes = await session.execute(select(func.count()).select_from(LineStatusChange))
        assert changes.scalar_one() == 0  # new in this delivery: stored as its last version
    assert (stored.status, stored.amount) == ("success", 16000)


async def test_a_stored_line_moves_forward_through_a_delivery_and_counts_once(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        await store_lines(session, [line("1", "pending"), line("2")], fetch_id=None, now=NOW)
        await session.commit()
    async with sessionmaker() as session:
        store = LineStore(session, fetch_id=None, now=NOW)
        await store.add([line("1", "success"), line("2")])
        await store.add([line("1", "reversed"), line("2", "pending")])
        await session.commit()
    assert store.counts == StoreCounts(lines=2, inserted=0, updated=1, duplicates=1)
    async with sessionmaker() as session:
        rows = await session.execute(
            select(StatementLineRow.channel_txn_id, StatementLineRow.status)
        )
        statuses = {str(txn): str(status) for txn, status in rows}
        changes = (
            await session.execute(
                select(LineStatusChange.status_before, LineStatusChange.status_after).order_by(
                    LineStatusChange.id
                )
            )
        ).all()
    assert statuses == {"1": "reversed", "2": "success"}
    assert [tuple(c) for c in changes] == [("pending", "success"), ("success", "reversed")]


@pytest.mark.parametrize("keys_unique", [False, True])
async def test_a_delivery_with_each_key_once_counts_alike_with_or_without_the_map_of_keys(
    sessionmaker: async_sessionmaker[AsyncSession], keys_unique: bool
) -> None:
    # a statement file's lines (each key once, the parser refuses repeats) need no map of the
    # keys already handled: the counts and what is stored are the same either way
    async with sessionmaker() as session:
        await store_lines(
            session, [line("1", "pending"), line("2"), line("3")], fetch_id=None, now=NOW
        )
        await session.commit()
    async with sessionmaker() as session:
        store = LineStore(session, fetch_id=None, now=NOW, keys_unique=keys_unique)
        await store.add([line("1", "success"), line("2"), line("4")])
        await store.add([line("3", "pending"), line("5"), line("6", "failed")])
        await session.commit()
    assert store.counts == StoreCounts(lines=6, inserted=3, updated=1, duplicates=2)
    async with sessionmaker() as session:
        rows = await session.execute(
            select(StatementLineRow.channel_txn_id, StatementLineRow.status)
        )
        statuses = {str(txn): str(status) for txn, status in rows}
        changes = await session.execute(select(func.count()).select_from(LineStatusChange))
        assert changes.scalar_one() == 1
    assert statuses == {
        "1": "success",
        "2": "success",
        "3": "success",
        "4": "success",
        "5": "success",
        "6": "failed",
    }


async def test_every_column_of_a_stored_line_reads_back_as_written(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    written = line(
        "77",
        paid_at=datetime(2025, 11, 24, 16, 59, 59, 123456, tzinfo=UTC),
        business_day=date(2025, 11, 24),
        order_ref=" mm2411250077 ",
        dossier_hint="H17.25-241125-0077",
        kind="refund",
        refund_of="76",
        fee=550,
        description="Hoàn tiền = 1+1",
    )
    async with sessionmaker() as session:
        await store_lines(session, [written], fetch_id=None, now=NOW)
        await session.commit()
    async with sessionmaker() as session:
        row = (await session.execute(select(StatementLineRow))).scalar_one()
    assert (row.channel, row.channel_txn_id, row.amount, row.fee) == ("momo", "77", 15000, 550)
    assert (row.kind, row.refund_of, row.status) == ("refund", "76", "success")
    assert (row.order_ref, row.order_ref_key) == (" mm2411250077 ", "MM2411250077")
    assert row.dossier_hint == "H17.25-241125-0077"
    assert row.paid_at == written.paid_at
    assert row.paid_at.tzinfo is not None
    assert row.business_day == date(2025, 11, 24)
    assert (row.description, row.payer) == ("Hoàn tiền = 1+1", "*******567")
    assert json.loads(row.raw) == written.raw
    assert (row.first_seen_at, row.updated_at, row.matched, row.fetch_id) == (NOW, NOW, False, None)


def test_new_lines_are_written_with_every_column_but_the_id_and_the_matched_bit() -> None:
    # a column added to the table and forgotten here would be left NULL by the SQLite path
    columns = {column.name for column in table(StatementLineRow).c}
    assert set(_COLUMNS) == columns - {"id", "matched"}
    assert len(_COLUMNS) == len(set(_COLUMNS))


@pytest.fixture
def momo_settings(database_url: str, tmp_path: Path) -> Settings:
    config = tmp_path / "recon.toml"
    config.write_text(
        f"""
[channels.momo]
adapter = "momo"
base_url = "{MOMO_BASE_URL}"
partner_code = "MOMOXYZ"
access_key_env = "K"
secret_key_env = "S"
""",
        encoding="utf-8",
    )
    return load_settings(
        {
            "RECON_DATABASE_URL": database_url,
            "RECON_CONFIG": str(config),
            "K": MOMO_ACCESS_KEY,
            "S": MOMO_SECRET_KEY,
        }
    )


INSTANT = RetryPolicy(sleep=lambda _: _noop(), rand=lambda: 0.5)


async def _noop() -> None:
    return None


async def pull(settings: Settings, maker: async_sessionmaker[AsyncSession], day: date = DAY) -> Any:
    async with httpx.AsyncClient() as client:
        return await pull_channel_day(
            sessionmaker=maker,
            settings=settings,
            channel="momo",
            day=day,
            client=client,
            retry_policy=INSTANT,
        )


@pytest.mark.respx(base_url=MOMO_BASE_URL)
async def test_a_pull_stores_the_day_and_a_second_pull_inserts_nothing(
    respx_mock: respx.MockRouter,
    momo_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    respx_mock.post(STATEMENT).mock(side_effect=momo_server(_day_pages()))
    first = await pull(momo_settings, sessionmaker)
    assert first.status == "succeeded"
    assert first.inserted == first.lines > 0
    second = await pull(momo_settings, sessionmaker)
    assert (second.status, second.inserted, second.duplicates) == ("succeeded", 0, first.lines)
    assert await count(sessionmaker, StatementLineRow) == first.lines
    async with sessionmaker() as session:
        fetches = (await session.execute(select(ChannelFetch.status))).scalars().all()
        day = (await session.execute(select(ChannelDay))).scalar_one()
    assert fetches == ["succeeded", "succeeded"]
    assert (day.channel, day.business_day, day.fetch_status) == ("momo", DAY, "succeeded")


@pytest.mark.respx(base_url=MOMO_BASE_URL)
async def test_a_failed_pull_stores_no_line_and_marks_the_day_failed(
    respx_mock: respx.MockRouter,
    momo_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    serve = momo_server(_day_pages())
    calls = {"n": 0}

    def fail_on_page_two(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if json.loads(request.content)["page"] == 2:
            return httpx.Response(503)
        return serve(request)

    respx_mock.post(STATEMENT).mock(side_effect=fail_on_page_two)
    outcome = await pull(momo_settings, sessionmaker)
    assert outcome.status == "failed"
    assert "momo 2024-11-25" in (outcome.error or "")
    assert await count(sessionmaker, StatementLineRow) == 0
    async with sessionmaker() as session:
        fetch = (await session.execute(select(ChannelFetch))).scalar_one()
        day = (await session.execute(select(ChannelDay))).scalar_one()
    assert fetch.status == "failed"
    assert fetch.error
    assert day.fetch_status == "failed"
    assert day.reconciled_at is None


@pytest.mark.respx(base_url=MOMO_BASE_URL)
async def test_wrong_control_totals_store_nothing_and_keep_both_figures(
    respx_mock: respx.MockRouter,
    momo_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    pages = _day_pages()
    pages = {n: {**p, "totalAmount": p["totalAmount"] + 1000} for n, p in pages.items()}
    respx_mock.post(STATEMENT).mock(side_effect=momo_server(pages))
    outcome = await pull(momo_settings, sessionmaker)
    assert outcome.status == "failed"
    assert outcome.control_mismatch is not None
    assert await count(sessionmaker, StatementLineRow) == 0
    async with sessionmaker() as session:
        fetch = (await session.execute(select(ChannelFetch))).scalar_one()
    assert fetch.control_amount is not None
    assert fetch.received_amount is not None
    assert fetch.control_amount - fetch.received_amount == 1000


async def test_a_closed_day_is_not_pulled(
    momo_settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as session:
        await session.execute(
            insert(LedgerDay), [{"business_day": DAY, "status": "closed", "note": ""}]
        )
        await session.commit()
    with pytest.raises(Conflict, match="closed"):
        await pull(momo_settings, sessionmaker)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--channel", "paypal", "--date", "2024-11-25"), 2, "unknown channel 'paypal'"),
        (("--channel", "momo", "--date", "25/11/2024"), 2, "--date: '25/11/2024' is not a date"),
        (("--channel", "vnpay", "--date", "2024-11-25"), 2, "fed by files"),
    ],
)
def test_bad_pull_requests_are_one_line(
    run_cli: Callable[..., Any], args: tuple[str, ...], code: int, message: str
) -> None:
    result = run_cli("statements", "pull", *args)
    assert result.code == code
    assert message in result.err
    assert result.err.count("\n") == 1
