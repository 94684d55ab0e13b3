"""`linked` (DESIGN 4): the line belongs to the dossier from then on, ahead of rules 1–3, in
every later run; the dossier is re-judged at once and its payment status shows the line;
reopening undoes it the same way. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from recon.db.models import Case, CaseEvent, Match, StatementLineRow
from recon.db.session import open_database
from recon.runs.service import reconcile_day
from recon.settings import Settings
from recon.statements.imports import import_file
from tests.cases.conftest import EXTRA, UNDERPAID, UNMATCHED
from tests.cases.test_workflow import act, case_of
from tests.helpers import make_key
from tests.runs.test_reconcile import D1, LINES, write

PAID_ONE = "H17.25-241125-0001"  # fee 15,000, paid in full by V1
HALF_PAID = "H17.25-241125-0002"  # fee 20,000, 10,000 paid by V2
D1_DATE = date.fromisoformat(D1)


@pytest.fixture
async def reader(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {await make_key(settings, 'payments:read')}"}


async def payment(client: AsyncTestClient[Any], reader: dict[str, str], code: str) -> Any:
    response = await client.get(f"/api/v1/payments/{code}", headers=reader)
    assert response.status_code == 200, response.text
    return response.json()


async def link(settings: Settings, case_id: int, code: str, username: str = "ketoan") -> None:
    await act(
        settings,
        "resolve",
        case_ids=[case_id],
        resolution="linked",
        dossier_code=code,
        username=username,
        note="Người nộp gọi điện xác nhận",
    )


async def rerun(settings: Settings) -> dict[str, Any]:
    async with open_database(settings.database_url) as sessionmaker:
        run = await reconcile_day(
            sessionmaker=sessionmaker, settings=settings, day=D1_DATE, channel="vnpay", pull=False
        )
    assert run.status == "succeeded"
    return {"opened": run.cases_opened, "closed": run.cases_closed}


async def stored(settings: Settings) -> dict[str, Any]:
    """Cases (id, type, status, amounts), matches and events as stored."""
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
        cases = (
            await s.execute(
                select(
                    Case.id,
                    Case.type,
                    Case.status,
                    Case.resolution,
                    Case.expected_amount,
                    Case.actual_amount,
                ).order_by(Case.id)
            )
        ).all()
        matches = (
            await s.execute(
                select(StatementLineRow.channel_txn_id, Match.dossier_id, Match.rule)
                .join(Match, Match.line_id == StatementLineRow.id)
                .order_by(StatementLineRow.channel_txn_id)
            )
        ).all()
        events = (await s.execute(select(CaseEvent.id).order_by(CaseEvent.id))).scalars().all()
    return {"cases": cases, "matches": matches, "events": events}


async def live_types(settings: Settings) -> dict[str, int]:
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
        live = select(Case.type, Case.id).where(Case.status.in_(("open", "reopened")))
        return {row[0]: row[1] for row in (await s.execute(live)).all()}


async def test_a_linked_line_pays_its_dossier_at_once_and_its_payment_shows_it(
    client: AsyncTestClient[Any], reader: dict[str, str], settings: Settings, queue: dict[str, int]
) -> None:
    assert (await payment(client, reader, EXTRA))["status"] == "UNPAID"
    await link(settings, queue[UNMATCHED], EXTRA)
    case = await case_of(settings, queue[UNMATCHED])
    assert (case.status, case.resolution, case.linked_dossier_code) == ("resolved", "linked", EXTRA)
    assert case.history[-1].dossier_code == EXTRA
    paid = await payment(client, reader, EXTRA)
    assert (paid["status"], paid["paid_amount"]) == ("PAID", 5_000)
    assert [t["channel_txn_id"] for t in paid["transactions"]] == ["V3"]
    assert ("V3", "linked") in {(m[0], m[2]) for m in (await stored(settings))["matches"]}
    assert "UNMATCHED_PAYMENT" not in await live_types(settings)


async def test_a_link_survives_a_re_run(
    client: AsyncTestClient[Any], reader: dict[str, str], settings: Settings, queue: dict[str, int]
) -> None:
    await link(settings, queue[UNMATCHED], EXTRA)
    before = await stored(settings)
    assert await rerun(settings) == {"opened": 0, "closed": 0}
    assert await stored(settings) == before  # no new case, no event, the same matches
    assert (await payment(client, reader, EXTRA))["status"] == "PAID"
    assert (await case_of(settings, queue[UNMATCHED])).status == "resolved"


async def test_reopening_a_link_undoes_it_at_once_and_in_later_runs(
    client: AsyncTestClient[Any], reader: dict[str, str], settings: Settings, queue: dict[str, int]
) -> None:
    case_id = queue[UNMATCHED]
    await link(settings, case_id, EXTRA)
    await act(settings, "reopen", case_id=case_id, username="duyet", note="Liên kết nhầm hồ sơ")
    case = await case_of(settings, case_id)
    assert (case.status, case.resolution, case.linked_dossier_code) == ("reopened", None, None)
    assert (case.history[-1].action, case.history[-1].dossier_code) == ("reopen", EXTRA)
    unpaid = await payment(client, reader, EXTRA)
    assert (unpaid["status"], unpaid["transactions"]) == ("UNPAID", [])
    assert "V3" not in {m[0] for m in (await stored(settings))["matches"]}
    before = await stored(settings)
    assert await rerun(settings) == {"opened": 0, "closed": 0}
    assert await stored(settings) == before
    assert (await live_types(settings))["UNMATCHED_PAYMENT"] == case_id  # the same case, live


async def test_a_link_to_a_paid_dossier_opens_an_overpaid_at_once_and_reopening_closes_it(
    client: AsyncTestClient[Any], reader: dict[str, str], settings: Settings, queue: dict[str, int]
) -> None:
    await link(settings, queue[UNMATCHED], PAID_ONE)
    overpaid = (await live_types(settings)).get("OVERPAID")
    assert overpaid is not None
    assert overpaid not in queue.values()  # a new case
    case = await case_of(settings, overpaid)
    assert (case.dossier_code, case.expected_amount, case.actual_amount) == (
        PAID_ONE,
        15_000,
        20_000,
    )
    assert [(e.action, e.actor) for e in case.history] == [("opened", None)]
    assert (await payment(client, reader, PAID_ONE))["status"] == "DISPUTED"
    assert await rerun(settings) == {"opened": 0, "closed": 0}
    await act(settings, "reopen", case_id=queue[UNMATCHED], username="ketoan", note="Nhầm")
    closed = await case_of(settings, overpaid)
    assert closed.status == "closed"
    assert [(e.action, e.actor) for e in closed.history] == [("opened", None), ("closed", None)]
    assert (await payment(client, reader, PAID_ONE))["status"] == "PAID"


async def test_a_link_changes_the_amounts_of_its_dossiers_live_case(
    settings: Settings, queue: dict[str, int]
) -> None:
    await link(settings, queue[UNMATCHED], HALF_PAID)
    underpaid = await case_of(settings, queue[UNDERPAID])
    assert (underpaid.status, underpaid.actual_amount) == ("open", 15_000)
    assert sorted(underpaid.channel_txn_ids) == ["V2", "V3"]
    assert underpaid.history[-1].action == "updated"
    assert underpaid.history[-1].actor is None


async def test_a_refund_follows_its_linked_payment(
    client: AsyncTestClient[Any],
    reader: dict[str, str],
    settings: Settings,
    queue: dict[str, int],
    tmp_path: Path,
) -> None:
    # V3 (order ref ZZZ) refunded in part on the same day: no case while V3 has no owner
    refund = write(
        tmp_path, "r.csv", LINES, f"R3,ZZZ,1.000,0,refund,success,{D1}T16:00:00+07:00,Hoan,"
    )
    assert (await import_file(settings, "vnpay", Path(refund))).rejected == []
    await rerun(settings)
    assert "UNDERPAID" in await live_types(settings)  # dossier 0002's
    await link(settings, queue[UNMATCHED], EXTRA)
    paid = await payment(client, reader, EXTRA)
    assert paid["paid_amount"] == 4_000  # 5,000 less the refund
    assert sorted(t["channel_txn_id"] for t in paid["transactions"]) == ["R3", "V3"]
    before = await stored(settings)
    await rerun(settings)
    assert await stored(settings) == before
