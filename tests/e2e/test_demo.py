"""`recon demo`: simulators started, a ward loaded and reconciled into an empty database only."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from recon.db.models import Case, CaseEvent
from recon.db.session import open_database
from recon.demo import demo_range, demo_settings, load_demo, start_simulators
from recon.settings import load_settings
from recon.vocab import CASE_TYPES

pytestmark = pytest.mark.e2e


def test_the_demo_covers_the_last_30_days_ending_yesterday() -> None:
    start, end = demo_range(date(2025, 11, 28))
    assert (start, end) == (date(2025, 10, 29), date(2025, 11, 27))
    assert (end - start).days + 1 == 30


async def test_the_demo_loads_and_reconciles_an_empty_database_only(
    database_url: str, tmp_path: Path
) -> None:
    end = date(2025, 11, 24)
    start = end - timedelta(days=3)
    sims = start_simulators(start, end)
    try:
        settings = demo_settings(
            load_settings({"RECON_DATABASE_URL": database_url}), sims, tmp_path
        )
        assert settings.channel_names() == ["bank", "momo", "portal"]
        first = await load_demo(settings, start, end)
        assert first["loaded"] is True
        assert first["dossiers"] > 50
        assert first["days"] == 4
        assert first["cases_opened"] > 0
        assert first["users"] == ["ketoan", "duyet", "xem"]
        again = await load_demo(settings, start, end)
        assert again["loaded"] is False
        assert again["dossiers"] == first["dossiers"]
    finally:
        sims.stop()


async def test_the_demo_queue_is_worth_working(database_url: str, tmp_path: Path) -> None:
    """Every case type, a few already resolved by the accountant, one write-off awaiting the
    approver (issue 14)."""
    start, end = demo_range(date(2025, 11, 28))
    sims = start_simulators(start, end)
    try:
        settings = demo_settings(
            load_settings({"RECON_DATABASE_URL": database_url}), sims, tmp_path
        )
        loaded = await load_demo(settings, start, end)
    finally:
        sims.stop()
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as session:
        cases = (await session.execute(select(Case))).scalars().all()
        events = (await session.execute(select(CaseEvent))).scalars().all()
    assert {case.type for case in cases} == set(CASE_TYPES)
    resolved = [case for case in cases if case.status == "resolved"]
    assert len(resolved) >= 3
    assert sorted(case.id for case in resolved) == sorted(loaded["cases_resolved"])
    assert {case.resolution for case in resolved} >= {"accepted", "refund_requested"}
    (pending,) = [case for case in cases if case.pending_resolution is not None]
    assert pending.id == loaded["write_off_pending"]
    assert (pending.pending_resolution, pending.status, pending.pending_by) == (
        "written_off",
        "open",
        "ketoan",
    )
    assert abs((pending.actual_amount or 0) - (pending.expected_amount or 0)) > (
        settings.thresholds.write_off_approval
    )
    by_person = [event for event in events if event.actor == "ketoan"]
    assert len(by_person) == len(resolved) + 1
    assert all(event.note for event in by_person)
