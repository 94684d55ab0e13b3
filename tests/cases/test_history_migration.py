"""Migration 0008: the stored history takes DESIGN 4's shape losing nothing, and stays
append-only in the database itself. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from recon.db.migrate import current_revision, head_revision, upgrade
from recon.db.models import CaseEvent
from recon.db.session import create_engine
from tests.db.test_schema import downgrade

NOW = datetime(2025, 11, 24, 18, 30, tzinfo=UTC)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


async def test_stored_history_takes_designs_shape_losing_nothing(
    engine: AsyncEngine, database_url: str
) -> None:
    await downgrade(engine, database_url, "0007")
    try:
        # the tables as 0007 left them: events say status_before/after, the engine "engine"
        cases = sa.table(
            "cases",
            *(sa.column(n) for n in ("id", "type", "status", "identity", "rule", "explanation")),
            sa.column("business_day", sa.Date()),
            sa.column("created_at", CaseEvent.__table__.c.at.type),
            sa.column("updated_at", CaseEvent.__table__.c.at.type),
        )
        events = sa.table(
            "case_events",
            *(
                sa.column(n)
                for n in ("case_id", "actor", "action", "status_before", "status_after")
            ),
            sa.column("changes"),
            sa.column("note"),
            sa.column("at", CaseEvent.__table__.c.at.type),
        )
        async with engine.begin() as connection:
            await connection.execute(
                insert(cases),
                [
                    {
                        "id": 1,
                        "type": "UNDERPAID",
                        "status": "open",
                        "identity": "UNDERPAID:d1",
                        "rule": "0 < net < fee",
                        "explanation": "Thiếu tiền",
                        "business_day": date(2025, 11, 24),
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                ],
            )
            amounts = '{"actual_amount": [5000, 10000]}'
            await connection.execute(
                insert(events),
                [
                    {
                        "case_id": 1,
                        "actor": "engine",
                        "action": "opened",
                        "status_before": None,
                        "status_after": "open",
                        "changes": "{}",
                        "note": "Hồ sơ nộp thiếu",
                        "at": NOW,
                    },
                    {
                        "case_id": 1,
                        "actor": "engine",
                        "action": "updated",
                        "status_before": "open",
                        "status_after": "open",
                        "changes": amounts,
                        "note": "",
                        "at": NOW,
                    },
                ],
            )
        await upgrade(database_url)
        async with engine.connect() as connection:
            query = select(
                CaseEvent.case_id,
                CaseEvent.actor,
                CaseEvent.action,
                CaseEvent.from_status,
                CaseEvent.to_status,
                CaseEvent.resolution,
                CaseEvent.dossier_code,
                CaseEvent.changes,
                CaseEvent.note,
                CaseEvent.at,
            ).order_by(CaseEvent.id)
            stored = [tuple(row) for row in (await connection.execute(query)).all()]
        assert stored == [
            (1, None, "opened", None, "open", None, None, "{}", "Hồ sơ nộp thiếu", NOW),
            (1, None, "updated", "open", "open", None, None, amounts, "", NOW),
        ]
        # still append-only, on both databases, after the table was rebuilt
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as connection:
                await connection.execute(sa.update(CaseEvent).values(note="viết lại"))
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as connection:
                await connection.execute(text("DELETE FROM case_events"))
    finally:
        await upgrade(database_url)
    assert await current_revision(engine) == head_revision()


async def test_an_event_is_never_updated_or_deleted(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO cases (id, type, status, identity, business_day, rule, explanation,"
                " created_at, updated_at) VALUES (7, 'UNMATCHED_PAYMENT', 'resolved', 'x',"
                " '2025-11-24', 'r', 'e', :now, :now)"
            ).bindparams(sa.bindparam("now", NOW, type_=CaseEvent.__table__.c.at.type))
        )
        await connection.execute(
            insert(CaseEvent),
            [
                {
                    "case_id": 7,
                    "at": NOW,
                    "actor": "ketoan",
                    "action": "resolve",
                    "from_status": "open",
                    "to_status": "resolved",
                    "resolution": "accepted",
                    "changes": "{}",
                    "note": "Đã xác minh",
                }
            ],
        )
    for statement in (
        sa.update(CaseEvent).values(actor="someone-else"),
        sa.update(CaseEvent).values(to_status="open"),
        sa.delete(CaseEvent),
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as connection:
                await connection.execute(statement)
    async with engine.connect() as connection:
        kept = (await connection.execute(select(CaseEvent.actor, CaseEvent.to_status))).all()
    assert [tuple(row) for row in kept] == [("ketoan", "resolved")]
