"""A run whose channels fail changes no case that rests on them (issue 10), end to end against
the simulators, on SQLite and PostgreSQL.

A failed pull erases nothing an earlier good pull of the day established (its lines, and that
the day was pulled), and what rests on a channel that failed in this run waits: no case about
it opens, changes or closes until a run gets the channel's statement.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fixtures.simulators.server import SimulatorSet, run_simulators
from recon.db.models import Case, CaseEvent, CaseLine, ChannelDay, Dossier, Match, StatementLineRow
from recon.settings import Settings
from tests.e2e.conftest import run_days

pytestmark = pytest.mark.e2e

END = date(2025, 11, 24)
START = END - timedelta(days=5)
DAYS = [START + timedelta(days=n) for n in range((END - START).days + 2)]  # through END + 1
CHANNELS = ("momo", "portal", "bank")


@pytest.fixture(scope="module")
def sims() -> Iterator[SimulatorSet]:
    with run_simulators(start=START, end=END, seed=11) as running:
        yield running


async def every_case(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[int, Any]:
    """Every case as stored, by id: its fields, its lines and its whole history."""
    async with sessionmaker() as session:
        cases = (await session.execute(select(Case))).scalars().all()
        lines = (await session.execute(select(CaseLine.case_id, CaseLine.line_id))).all()
        events = (await session.execute(select(CaseEvent).order_by(CaseEvent.id))).scalars()
        history: dict[int, list[tuple[Any, ...]]] = {}
        for e in events:
            history.setdefault(e.case_id, []).append(
                (e.id, e.action, e.from_status, e.to_status, e.changes, e.run_id)
            )
    return {
        c.id: (
            c.identity,
            c.status,
            c.business_day,
            c.channel,
            c.dossier_id,
            c.expected_amount,
            c.actual_amount,
            c.explanation,
            sorted(line for case_id, line in lines if case_id == c.id),
            history.get(c.id, []),
        )
        for c in cases
    }


def planted(sims: SimulatorSet) -> Counter[str]:
    return Counter(s["expect_case"] for s in sims.ward.scenarios if s["expect_case"])


def live_types(cases: dict[int, Any]) -> Counter[str]:
    return Counter(c[0].split(":")[0] for c in cases.values() if c[1] in ("open", "reopened"))


async def test_a_run_whose_every_channel_fails_changes_no_case(
    sims: SimulatorSet, ward: tuple[Settings, async_sessionmaker[AsyncSession]]
) -> None:
    settings, sessionmaker = ward
    assert {r.status for r in await run_days(settings, sessionmaker, DAYS)} == {"succeeded"}
    before = await every_case(sessionmaker)
    assert live_types(before)["MISSING_IN_STATEMENT"] > 0  # what the reported bug closed
    for sim in (sims.momo, sims.portal, sims.bank):
        sim.faults.add({"type": "http_500"})
    failed = await run_days(settings, sessionmaker, DAYS)
    assert {r.status for r in failed} == {"failed"}
    assert [(r.cases_opened, r.cases_closed) for r in failed] == [(0, 0)] * len(DAYS)
    assert await every_case(sessionmaker) == before
    async with sessionmaker() as session:
        days = (await session.execute(select(ChannelDay))).scalars().all()
    # the failed re-pulls are on record, and took back nothing the good pulls established
    assert {d.fetch_status for d in days} == {"failed"}
    assert all(d.pulled_at is not None and d.reconciled_at is not None for d in days)

    sims.reset()  # the channels answer again: the same cases go on, under the same ids
    again = await run_days(settings, sessionmaker, DAYS)
    assert {r.status for r in again} == {"succeeded"}
    assert [(r.cases_opened, r.cases_closed) for r in again] == [(0, 0)] * len(DAYS)
    assert await every_case(sessionmaker) == before


async def test_a_repull_that_fails_on_control_totals_keeps_the_day_and_its_cases(
    sims: SimulatorSet, ward: tuple[Settings, async_sessionmaker[AsyncSession]]
) -> None:
    settings, sessionmaker = ward
    await run_days(settings, sessionmaker, DAYS)
    before = await every_case(sessionmaker)
    day = DAYS[-2]
    sims.portal.faults.add({"type": "wrong_totals", "date": day.isoformat()})
    (run,) = await run_days(settings, sessionmaker, [day])
    assert run.status == "partial"
    assert run.cases_closed == 0
    after = await every_case(sessionmaker)
    new = {k: v for k, v in after.items() if k not in before}
    assert [v[0] for v in new.values()] == [f"CONTROL_TOTAL_MISMATCH:portal:{day}"]
    assert {k: v for k, v in after.items() if k in before} == before

    # the portal then cannot be reached at all: the mismatch is not forgotten on that account
    sims.reset()
    sims.portal.faults.add({"type": "http_500", "date": day.isoformat()})
    (run,) = await run_days(settings, sessionmaker, [day])
    assert (run.status, run.cases_opened, run.cases_closed) == ("partial", 0, 0)
    assert await every_case(sessionmaker) == after

    sims.reset()  # a good statement at last: the mismatch no longer holds, nothing else moves
    (run,) = await run_days(settings, sessionmaker, [day])
    assert (run.status, run.cases_opened, run.cases_closed) == ("succeeded", 0, 1)
    final = await every_case(sessionmaker)
    (control,) = new
    assert final[control][1] == "closed"
    assert {k: v for k, v in final.items() if k != control} == before


async def test_one_failing_channel_holds_only_what_rests_on_it(
    sims: SimulatorSet, ward: tuple[Settings, async_sessionmaker[AsyncSession]]
) -> None:
    """Half paid by MoMo on day X, half by bank on X+1: the run of X+1 in which MoMo fails
    does not close the dossier's UNDERPAID on the bank's half alone; the bank's other news
    is judged; the run that gets MoMo's statement closes it."""
    settings, sessionmaker = ward
    split = next(
        s
        for s in sims.ward.scenarios
        if s["kind"] == "SPLIT_PAYMENT" and date.fromisoformat(s["date"]) > START
    )
    day = date.fromisoformat(split["date"])  # the bank's half
    await run_days(settings, sessionmaker, [d for d in DAYS if d < day])
    before = await every_case(sessionmaker)
    underpaid = await case_of(sessionmaker, "UNDERPAID", split["dossier_codes"][0])
    assert before[underpaid][1] == "open"

    sims.momo.faults.add({"type": "http_401"})
    (run,) = await run_days(settings, sessionmaker, [day])
    assert run.status == "partial"
    assert (run.channels["momo"]["status"], run.channels["bank"]["status"]) == (
        "failed",
        "succeeded",
    )
    after = await every_case(sessionmaker)
    assert after[underpaid] == before[underpaid]
    on_momo = await dossiers_on(sessionmaker, "momo")
    for case_id, case in after.items():
        if before.get(case_id) != case:  # opened, moved or closed by this run
            assert ":momo:" not in case[0], case[0]
            assert case[4] not in on_momo, case[0]
    assert any(k not in before for k in after)  # the bank's own news was judged

    sims.reset()  # MoMo answers: the held judgement is made, and then the ward is whole
    (run,) = await run_days(settings, sessionmaker, [day])
    assert run.status == "succeeded"
    assert (await every_case(sessionmaker))[underpaid][1] == "closed"
    await run_days(settings, sessionmaker, [d for d in DAYS if d > day])
    assert live_types(await every_case(sessionmaker)) == planted(sims)


async def case_of(sessionmaker: async_sessionmaker[AsyncSession], kind: str, code: str) -> int:
    async with sessionmaker() as session:
        query = (
            select(Case.id)
            .join(Dossier, Dossier.id == Case.dossier_id)
            .where(Case.type == kind, Dossier.dossier_code == code)
        )
        return int((await session.execute(query)).scalar_one())


async def dossiers_on(sessionmaker: async_sessionmaker[AsyncSession], channel: str) -> set[int]:
    """Dossiers with a claim on the channel or a line of it matched to them."""
    async with sessionmaker() as session:
        claims = select(Dossier.id).where(Dossier.claimed_paid_channel == channel)
        matched = (
            select(Match.dossier_id)
            .join(StatementLineRow, StatementLineRow.id == Match.line_id)
            .where(StatementLineRow.channel == channel)
        )
        found = set((await session.execute(claims)).scalars())
        found.update((await session.execute(matched)).scalars())
    return found
