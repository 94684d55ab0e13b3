"""End to end: reconcile a generated ward against the running simulators, on both databases.

The ward generator plants scenarios and says which case each must leave live; the engine and
the generator were written apart, from the same specification.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta

import msgspec
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fixtures.simulators.server import SimulatorSet, run_simulators
from recon.cases.schemas import CaseSummary
from recon.cases.service import CaseFilter, list_cases
from recon.runs.schemas import RunResult
from recon.settings import Settings
from tests.e2e.conftest import run_days

pytestmark = pytest.mark.e2e

END = date(2025, 11, 24)
START = END - timedelta(days=5)


@pytest.fixture(scope="module")
def sims() -> Iterator[SimulatorSet]:
    with run_simulators(start=START, end=END, seed=7) as running:
        yield running


async def reconcile_range(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> list[RunResult]:
    days = [START + timedelta(days=n) for n in range((END - START).days + 2)]  # through END + 1
    return await run_days(settings, sessionmaker, days)


async def live_cases(sessionmaker: async_sessionmaker[AsyncSession]) -> list[CaseSummary]:
    async with sessionmaker() as session:
        return list((await list_cases(db_session=session, wanted=CaseFilter(status="all"))).cases)


async def test_the_planted_scenarios_leave_exactly_their_cases(
    sims: SimulatorSet, ward: tuple[Settings, async_sessionmaker[AsyncSession]]
) -> None:
    settings, sessionmaker = ward
    runs = await reconcile_range(settings, sessionmaker)
    assert {run.status for run in runs} == {"succeeded"}
    async with sessionmaker() as session:
        live = (await list_cases(db_session=session, wanted=CaseFilter(status="open"))).cases
    expected = Counter(s["expect_case"] for s in sims.ward.scenarios if s["expect_case"])
    assert Counter(case.type for case in live) == expected
    # each planted scenario is found as its case, by its lines or its dossier
    for scenario in sims.ward.scenarios:
        if not scenario["expect_case"]:
            continue
        txn_ids = set(scenario["channel_txn_ids"])
        codes = set(scenario["dossier_codes"])
        assert any(
            case.type == scenario["expect_case"]
            and (txn_ids & set(case.channel_txn_ids) or case.dossier_code in codes)
            for case in live
        ), scenario


async def test_reconciling_everything_again_changes_nothing(
    ward: tuple[Settings, async_sessionmaker[AsyncSession]],
) -> None:
    settings, sessionmaker = ward
    await reconcile_range(settings, sessionmaker)
    before = msgspec.json.encode(await live_cases(sessionmaker))
    again = await reconcile_range(settings, sessionmaker)
    assert all((run.cases_opened, run.cases_closed) == (0, 0) for run in again)
    assert msgspec.json.encode(await live_cases(sessionmaker)) == before


async def test_a_failing_channel_makes_the_run_partial_and_its_claims_wait(
    sims: SimulatorSet, ward: tuple[Settings, async_sessionmaker[AsyncSession]]
) -> None:
    settings, sessionmaker = ward
    portal_claims = [
        s
        for s in sims.ward.scenarios
        if s["expect_case"] == "MISSING_IN_STATEMENT" and s["channel"] == "portal"
    ]
    assert portal_claims  # the ward does plant a claim on the portal
    sims.portal.faults.add({"type": "http_401"})
    runs = await reconcile_range(settings, sessionmaker)
    assert {run.status for run in runs} == {"partial"}
    assert {run.channels["portal"]["status"] for run in runs} == {"failed"}
    assert {run.channels["momo"]["status"] for run in runs} == {"succeeded"}

    def missing_on_portal(cases: list[CaseSummary]) -> list[CaseSummary]:
        return [
            c
            for c in cases
            if c.type == "MISSING_IN_STATEMENT" and c.channel == "portal" and c.status == "open"
        ]

    assert missing_on_portal(await live_cases(sessionmaker)) == []
    sims.reset()  # the portal answers again: the next runs pull it and judge its claims
    runs = await reconcile_range(settings, sessionmaker)
    assert {run.status for run in runs} == {"succeeded"}
    assert len(missing_on_portal(await live_cases(sessionmaker))) == len(portal_claims)
