"""The schema on both databases: migrations at head, constraints enforced by the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from recon.db.migrate import alembic_config, current_revision, head_revision, upgrade
from recon.db.models import (
    Base,
    Case,
    CaseEvent,
    ChannelDay,
    ChannelFetch,
    Dossier,
    DossierHistory,
    Match,
    StatementLineRow,
)
from recon.db.session import create_engine

NOW = datetime(2025, 11, 24, 2, 0, tzinfo=UTC)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


def dossier(code_key: str = "H17252411250042", fee: int = 1500) -> dict[str, object]:
    return {
        "dossier_code": "H17.25-241125-0042",
        "code_key": code_key,
        "procedure_code": "1.001612",
        "procedure_name": "Chứng thực",
        "applicant": "Nguyễn Văn An",
        "fee_amount": fee,
        "state": "received",
        "submitted_at": NOW,
        "created_at": NOW,
        "updated_at": NOW,
    }


def line(**changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "channel": "momo",
        "channel_txn_id": "3100000001",
        "amount": 1500,
        "fee": 0,
        "kind": "payment",
        "status": "success",
        "paid_at": NOW,
        "business_day": date(2025, 11, 24),
        "raw": "{}",
        "first_seen_at": NOW,
        "updated_at": NOW,
    }
    values.update(changes)
    return values


async def test_migrations_reach_head_and_match_the_models(engine: AsyncEngine) -> None:
    assert await current_revision(engine) == head_revision()
    async with engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    assert differences == []


async def downgrade(engine: AsyncEngine, database_url: str, revision: str) -> None:
    def run(sync: Connection) -> None:
        config = alembic_config(database_url)
        config.attributes["connection"] = sync
        command.downgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def test_migration_0003_marks_the_lines_that_already_have_a_match(
    engine: AsyncEngine, database_url: str
) -> None:
    await downgrade(engine, database_url, "0002")
    try:
        # the table as 0002 left it: no `matched` column yet
        rows = [line(channel_txn_id=f"310000000{n}", description="") for n in (1, 2, 3)]
        columns = StatementLineRow.__table__.c
        before = sa.table(
            "statement_lines",
            sa.column("id"),
            *(sa.column(name, columns[name].type) for name in rows[0]),
        )
        async with engine.begin() as connection:
            await connection.execute(insert(before), rows)
            await connection.execute(insert(Dossier), [dossier()])
            await connection.execute(
                insert(Match).values(
                    line_id=select(before.c.id)
                    .where(before.c.channel_txn_id == "3100000002")
                    .scalar_subquery(),
                    dossier_id=select(Dossier.id).scalar_subquery(),
                    rule="payment_ref",
                    fields="{}",
                    matched_at=NOW,
                )
            )
        await upgrade(database_url)
        async with engine.connect() as connection:
            query = select(StatementLineRow.channel_txn_id, StatementLineRow.matched)
            stored = dict((await connection.execute(query)).all())
        assert stored == {"3100000001": False, "3100000002": True, "3100000003": False}
    finally:
        await upgrade(database_url)
    assert await current_revision(engine) == head_revision()


async def test_migration_0004_keeps_that_a_day_was_pulled_behind_a_later_failed_pull(
    engine: AsyncEngine, database_url: str
) -> None:
    await downgrade(engine, database_url, "0003")
    try:
        day = date(2025, 11, 24)
        fetch = {"business_day": day, "source": "pull", "started_at": NOW, "lines": 0}
        fetch |= {"inserted": 0, "updated": 0, "duplicates": 0}
        good, bad = NOW + timedelta(hours=1), NOW + timedelta(hours=2)
        async with engine.begin() as connection:
            await connection.execute(
                insert(ChannelFetch),
                [
                    {**fetch, "channel": "momo", "status": "succeeded", "finished_at": good},
                    {**fetch, "channel": "momo", "status": "failed", "finished_at": bad},
                    {**fetch, "channel": "bank", "status": "failed", "finished_at": bad},
                ],
            )
            # the table as 0003 left it: no `pulled_at`; both days' latest pull failed
            before = sa.table(
                "channel_days",
                sa.column("channel"),
                sa.column("business_day", sa.Date()),
                sa.column("fetch_status"),
            )
            await connection.execute(
                insert(before),
                [
                    {"channel": name, "business_day": day, "fetch_status": "failed"}
                    for name in ("momo", "bank")
                ],
            )
        await upgrade(database_url)
        async with engine.connect() as connection:
            query = select(ChannelDay.channel, ChannelDay.pulled_at)
            pulled = dict((await connection.execute(query)).all())
        assert pulled == {"momo": good, "bank": None}
    finally:
        await upgrade(database_url)
    assert await current_revision(engine) == head_revision()


async def test_two_codes_that_normalise_alike_cannot_both_exist(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(insert(Dossier), [dossier()])
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(insert(Dossier), [dossier()])


@pytest.mark.parametrize("fee", [-1, 10**15 + 1])
async def test_the_database_refuses_a_fee_out_of_range(engine: AsyncEngine, fee: int) -> None:
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(insert(Dossier), [dossier(fee=fee)])


@pytest.mark.parametrize(
    "changes", [{"amount": 0}, {"amount": -5}, {"fee": -1}, {"kind": "gift"}, {"status": "ok"}]
)
async def test_the_database_refuses_a_bad_statement_line(
    engine: AsyncEngine, changes: dict[str, object]
) -> None:
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(insert(StatementLineRow), [line(**changes)])


async def test_a_channel_txn_id_is_stored_once_per_channel(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(insert(StatementLineRow), [line(), line(channel="portal")])
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(insert(StatementLineRow), [line()])


async def test_money_is_bigint_beyond_32_bits(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(insert(Dossier), [dossier(fee=10**15)])
        stored = (await connection.execute(select(Dossier.fee_amount))).scalar_one()
    assert stored == 10**15
    assert type(stored) is int


async def test_foreign_keys_are_enforced(engine: AsyncEngine) -> None:
    history = {
        "dossier_id": 999,
        "changed_at": NOW,
        "source": "api",
        "actor": "t",
        "change": "created",
        "fee_after": 0,
        "state_after": "received",
        "changed_fields": "",
    }
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(insert(DossierHistory), [history])


async def test_case_events_are_append_only(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        case_id = (
            await connection.execute(
                insert(Case).returning(Case.id),
                [
                    {
                        "type": "UNMATCHED_PAYMENT",
                        "status": "open",
                        "identity": "UNMATCHED_PAYMENT:momo:1",
                        "business_day": date(2025, 11, 24),
                        "rule": "unmatched",
                        "explanation": "Không tìm thấy hồ sơ",
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                ],
            )
        ).scalar_one()
        await connection.execute(
            insert(CaseEvent),
            [
                {
                    "case_id": case_id,
                    "at": NOW,
                    "actor": None,
                    "action": "opened",
                    "to_status": "open",
                    "changes": "{}",
                    "note": "",
                }
            ],
        )
    with pytest.raises(DBAPIError, match="append-only"):
        async with engine.begin() as connection:
            await connection.execute(update(CaseEvent).values(note="rewritten"))
    with pytest.raises(DBAPIError, match="append-only"):
        async with engine.begin() as connection:
            await connection.execute(text("DELETE FROM case_events"))


async def test_one_live_case_per_identity_but_closed_ones_may_repeat(engine: AsyncEngine) -> None:
    def case(status: str) -> dict[str, object]:
        return {
            "type": "UNDERPAID",
            "status": status,
            "identity": "UNDERPAID:dossier:1",
            "business_day": date(2025, 11, 24),
            "rule": "underpaid",
            "explanation": "Thiếu tiền",
            "created_at": NOW,
            "updated_at": NOW,
        }

    async with engine.begin() as connection:
        await connection.execute(insert(Case), [case("closed"), case("closed"), case("open")])
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(insert(Case), [case("resolved")])


async def test_times_come_back_aware_in_utc(engine: AsyncEngine) -> None:
    local = datetime(2025, 11, 24, 23, 59, 59, tzinfo=timezone(timedelta(hours=7)))
    async with engine.begin() as connection:
        await connection.execute(insert(Dossier), [{**dossier(), "submitted_at": local}])
        stored = (await connection.execute(select(Dossier.submitted_at))).scalar_one()
    assert stored == local
    assert stored.utcoffset() == timedelta(0)


async def test_a_naive_time_is_never_stored(engine: AsyncEngine) -> None:
    with pytest.raises(Exception, match="naive"):
        async with engine.begin() as connection:
            await connection.execute(
                insert(Dossier), [{**dossier(), "submitted_at": datetime(2025, 1, 1)}]
            )


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'pragmas.db'}")
    try:
        async with engine.connect() as connection:
            assert (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
            assert (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 10_000
    finally:
        await engine.dispose()
