"""Bulk loads into empty tables (`recon.db.bulk`): on SQLite the file imports drop the tables'
indexes and rebuild them before the commit. Afterwards, or after a load that failed part-way,
the schema is exactly the migrated one; a table that holds rows takes the normal path. Every
test runs on SQLite and PostgreSQL (which always takes the normal path)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.bulk import BulkLoad
from recon.db.models import Dossier, LedgerDay, StatementLineRow
from recon.db.session import open_database
from recon.errors import Conflict
from recon.settings import Settings
from recon.statements import service as statements_service
from tests.dossiers.test_import_batches import load as load_dossiers
from tests.dossiers.test_import_batches import row as dossier
from tests.statements.test_import_batches import line
from tests.statements.test_import_batches import load as load_lines

STATEMENT_INDEXES = {
    "ix_statement_lines_order_ref_key",
    "ix_statement_lines_dossier_hint",
    "ix_statement_lines_day_channel_totals",
}
DOSSIER_INDEXES = {
    "ix_dossiers_claimed_paid_day",
    "ix_dossiers_updated_at",
    "ix_dossier_payment_refs_dossier_id",
    "ix_dossier_history_dossier_id",
}


async def _schema(session: AsyncSession) -> list[tuple[str, ...]]:
    if session.get_bind().dialect.name == "sqlite":
        result = await session.execute(
            text("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type != 'table'")
        )
    else:
        result = await session.execute(
            text(
                "SELECT tablename, indexname, indexdef FROM pg_indexes"
                " WHERE schemaname = current_schema()"
            )
        )
    return sorted(tuple(str(value) for value in row) for row in result)


async def schema(settings: Settings) -> list[tuple[str, ...]]:
    """Every index (and trigger) of the database, with its SQL."""
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
        return await _schema(s)


async def count(settings: Settings, model: Any) -> int:
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def test_the_migrated_indexes_are_those_the_bulk_load_knows(settings: Settings) -> None:
    names = {row[1] for row in await schema(settings)}
    assert names >= STATEMENT_INDEXES | DOSSIER_INDEXES


async def test_a_statement_import_into_an_empty_table_leaves_the_schema_as_migrated(
    settings: Settings,
) -> None:
    migrated = await schema(settings)
    summary = await load_lines(settings, *(line(n) for n in range(1, 11)))
    assert (summary.inserted, summary.rejected) == (10, [])
    assert await schema(settings) == migrated
    # and the indexes are used and consistent with the rows
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
        if s.get_bind().dialect.name == "sqlite":
            assert (await s.execute(text("PRAGMA integrity_check"))).scalar_one() == "ok"
        found = await s.execute(
            select(StatementLineRow.channel_txn_id).where(StatementLineRow.order_ref_key == "MM007")
        )
        assert found.scalars().all() == ["T007"]


async def test_a_dossier_import_into_empty_tables_leaves_the_schema_as_migrated(
    settings: Settings, tmp_path: Path
) -> None:
    migrated = await schema(settings)
    summary = await load_dossiers(settings, tmp_path, *(dossier(n) for n in range(1, 11)))
    assert (summary.inserted, summary.rejected) == (10, [])
    assert await schema(settings) == migrated
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
        if s.get_bind().dialect.name == "sqlite":
            assert (await s.execute(text("PRAGMA integrity_check"))).scalar_one() == "ok"


async def test_a_bad_line_after_stored_batches_rolls_back_the_index_drops_too(
    settings: Settings,
) -> None:
    migrated = await schema(settings)
    summary = await load_lines(settings, *(line(n) for n in range(1, 9)), line(9, amount="0"))
    assert [(r.row, r.column) for r in summary.rejected] == [(10, "amount")]
    assert await schema(settings) == migrated
    assert await count(settings, StatementLineRow) == 0


async def test_a_line_on_a_closed_day_rolls_back_the_index_drops_too(settings: Settings) -> None:
    migrated = await schema(settings)
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
        await s.execute(insert(LedgerDay).values(business_day=date(2025, 11, 25), status="closed"))
        await s.commit()
    with pytest.raises(Conflict):
        await load_lines(settings, *(line(n) for n in range(1, 8)), line(8, day=25))
    assert await schema(settings) == migrated
    assert await count(settings, StatementLineRow) == 0


async def test_a_failure_while_storing_rolls_back_the_index_drops_too(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrated = await schema(settings)
    real_add = statements_service.LineStore.add
    calls = 0

    async def failing_add(self: statements_service.LineStore, lines: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("the disk is full")
        await real_add(self, lines)

    monkeypatch.setattr(statements_service.LineStore, "add", failing_add)
    with pytest.raises(RuntimeError, match="disk is full"):
        await load_lines(settings, *(line(n) for n in range(1, 11)))
    assert await schema(settings) == migrated
    assert await count(settings, StatementLineRow) == 0


async def test_a_duplicate_dossier_rolls_back_the_index_drops_too(
    settings: Settings, tmp_path: Path
) -> None:
    migrated = await schema(settings)
    rows = [dossier(n) for n in range(1, 9)] + [dossier(9, code="H17.25-241125-0002")]
    summary = await load_dossiers(settings, tmp_path, *rows)
    assert [(r.row, r.column) for r in summary.rejected] == [(10, "dossier_code")]
    assert await schema(settings) == migrated
    assert await count(settings, Dossier) == 0


async def test_imports_into_tables_with_rows_take_the_normal_path(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrated = await schema(settings)
    assert (await load_lines(settings, line(1))).inserted == 1
    assert (await load_dossiers(settings, tmp_path, dossier(1))).inserted == 1
    dropped: list[tuple[str, ...]] = []
    real_begin = BulkLoad.begin.__func__  # type: ignore[attr-defined]

    async def watching_begin(cls: type[BulkLoad], *args: Any) -> BulkLoad | None:
        found: BulkLoad | None = await real_begin(cls, *args)
        dropped.append(() if found is None else found.dropped)
        return found

    monkeypatch.setattr(BulkLoad, "begin", classmethod(watching_begin))
    again = await load_lines(settings, *(line(n) for n in range(1, 8)))
    assert (again.inserted, again.duplicates) == (6, 1)
    more = await load_dossiers(settings, tmp_path, *(dossier(n) for n in range(1, 8)))
    assert (more.inserted, more.duplicates) == (6, 1)
    # the statement import asked and was refused; the dossier intake saw rows and never asked
    assert dropped == [()]
    assert await schema(settings) == migrated


async def test_bulk_load_drops_and_recreates_only_on_an_empty_sqlite_table(
    settings: Settings,
) -> None:
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
        migrated = await _schema(s)
        sqlite = s.get_bind().dialect.name == "sqlite"
        bulk = await BulkLoad.begin(s, ["statement_lines"])
        if not sqlite:
            assert bulk is None
            return
        assert bulk is not None
        assert set(bulk.dropped) == STATEMENT_INDEXES
        during = {row[1] for row in await _schema(s)}
        assert not during & STATEMENT_INDEXES
        assert during >= DOSSIER_INDEXES
        await bulk.finish()
        await bulk.finish()  # once only
        await s.commit()
        assert await _schema(s) == migrated
    assert (await load_lines(settings, line(1))).inserted == 1
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
        assert await BulkLoad.begin(s, ["dossiers", "statement_lines"]) is None
