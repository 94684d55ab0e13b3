"""`recon reconcile` refused (a closed day, a held lease) still prints its run: `run_id` null,
`status` "refused", the reason, every channel skipped, counts 0 — and the one error line on
stderr, exit 4 (DESIGN 6: a run's JSON is printed whatever its outcome; issue #10)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from recon.db.models import LedgerDay, RunLease
from recon.db.session import open_database
from recon.settings import Settings
from tests.helpers import one_error_line

DAY = "2025-11-24"
SKIPPED = {
    "status": "skipped",
    "lines": 0,
    "inserted": 0,
    "duplicates": 0,
    "updated": 0,
    "error": None,
}


def execute(settings: Settings, statement: Any) -> None:
    async def go() -> None:
        async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
            await s.execute(statement)
            await s.commit()

    asyncio.run(go())


@pytest.fixture
def closed_day(settings: Settings) -> None:
    execute(
        settings,
        insert(LedgerDay).values(business_day=date(2025, 11, 24), status="closed", note="ok"),
    )


@pytest.fixture
def held_lease(settings: Settings) -> None:
    now = datetime.now(UTC)
    execute(
        settings,
        insert(RunLease).values(
            business_day=date(2025, 11, 24),
            holder="other:1",
            acquired_at=now,
            expires_at=now + timedelta(minutes=5),
        ),
    )


def test_a_closed_day_prints_the_refused_run_as_json_and_exits_4(
    run_cli: Callable[..., Any], closed_day: None
) -> None:
    result = run_cli("reconcile", "--date", DAY, "--no-pull", "--json")
    assert result.code == 4
    reason = one_error_line(result.err)
    assert "closed" in reason
    assert json.loads(result.out) == {
        "run_id": None,
        "date": DAY,
        "status": "refused",
        "reason": reason,
        "channels": dict.fromkeys(("momo", "portal", "bank", "vnpay"), SKIPPED),
        "matched": 0,
        "cases_opened": 0,
        "cases_closed": 0,
        "cases_open": 0,
    }


def test_a_closed_day_prints_a_readable_refused_line_without_json(
    run_cli: Callable[..., Any], closed_day: None
) -> None:
    result = run_cli("reconcile", "--date", DAY)
    assert result.code == 4
    reason = one_error_line(result.err)
    assert result.out == f"run of {DAY}: refused; {reason}\n"


def test_a_held_lease_prints_the_refused_run_of_the_one_channel_asked_for(
    run_cli: Callable[..., Any], held_lease: None
) -> None:
    result = run_cli("reconcile", "--date", DAY, "--no-pull", "--channel", "vnpay", "--json")
    assert result.code == 4
    reason = one_error_line(result.err)
    assert "being reconciled by other:1" in reason
    run = json.loads(result.out)
    assert (run["run_id"], run["status"], run["reason"]) == (None, "refused", reason)
    assert run["channels"] == {"vnpay": SKIPPED}


@pytest.mark.parametrize(
    "args",
    [("--date", "2025-13-01"), ("--date", DAY, "--channel", "paypal")],
    ids=["bad date", "unknown channel"],
)
def test_bad_input_prints_no_run(run_cli: Callable[..., Any], args: tuple[str, ...]) -> None:
    result = run_cli("reconcile", "--no-pull", "--json", *args)
    assert result.code == 2
    assert result.out == ""
    one_error_line(result.err)
