"""A business day after today (local) is refused as bad input for closing, pulling and
reconciling, with one clear line (issue 10); today and the past are not."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from recon.db.models import ChannelDay, ChannelFetch, DayEvent, LedgerDay, Run
from recon.db.session import open_database
from recon.domain import business_day_of
from recon.settings import Settings
from tests.helpers import make_key

TODAY = business_day_of(datetime.now(UTC))
TOMORROW = (TODAY + timedelta(days=1)).isoformat()
TO_COME = [TOMORROW, "2099-01-01", "9999-12-31"]


async def stored(settings: Settings, model: Any) -> int:
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


def nothing_stored(settings: Settings) -> bool:
    models = (Run, ChannelFetch, ChannelDay, LedgerDay, DayEvent)
    return all(asyncio.run(stored(settings, model)) == 0 for model in models)


@pytest.fixture
def accountant(run_cli: Callable[..., Any]) -> None:
    created = run_cli(
        "users", "create", "--username", "ketoan", "--role", "accountant", stdin="mat khau dai du\n"
    )
    assert created.code == 0, created


@pytest.mark.parametrize("day", TO_COME)
@pytest.mark.parametrize(
    "command",
    [
        ("reconcile", "--no-pull", "--date"),
        ("reconcile", "--date"),
        ("statements", "pull", "--channel", "momo", "--date"),
        ("days", "close", "--user", "ketoan", "--note", "chot so", "--date"),
    ],
    ids=["reconcile-no-pull", "reconcile", "pull", "close"],
)
def test_a_day_to_come_is_bad_input_on_the_command_line(
    run_cli: Callable[..., Any],
    settings: Settings,
    accountant: None,
    command: tuple[str, ...],
    day: str,
) -> None:
    result = run_cli(*command, day)
    assert result.code == 2, result
    assert result.err.count("\n") == 1
    assert f"business day {day} has not come yet" in result.err
    assert nothing_stored(settings)


def test_the_calendars_first_day_cannot_be_reconciled(run_cli: Callable[..., Any]) -> None:
    result = run_cli("reconcile", "--no-pull", "--date", date.min.isoformat())
    assert result.code == 2, result
    assert "before any statement" in result.err


def test_today_is_reconciled_and_closed(run_cli: Callable[..., Any], accountant: None) -> None:
    run = run_cli("reconcile", "--no-pull", "--json", "--date", TODAY.isoformat())
    assert run.code == 0, run
    assert json.loads(run.out)["status"] == "succeeded"
    closed = run_cli(
        "days", "close", "--user", "ketoan", "--note", "ok", "--date", TODAY.isoformat()
    )
    assert closed.code == 0, closed


@pytest.mark.parametrize("day", TO_COME)
async def test_a_day_to_come_cannot_be_closed_over_http(
    client: AsyncTestClient[Any], settings: Settings, accountant: None, day: str
) -> None:
    auth = {"Authorization": f"Bearer {await make_key(settings, 'days:write')}"}
    response = await client.post(
        f"/api/v1/days/{day}/close", json={"user": "ketoan", "note": "chot so"}, headers=auth
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["errors"] == [{"field": "date", "reason": body["detail"]}]
    assert f"business day {day} has not come yet" in body["detail"]
    assert await stored(settings, LedgerDay) == 0


async def test_a_note_is_required_in_api_words(
    client: AsyncTestClient[Any], settings: Settings, accountant: None
) -> None:
    auth = {"Authorization": f"Bearer {await make_key(settings, 'days:write')}"}
    response = await client.post(
        f"/api/v1/days/{TODAY}/close", json={"user": "ketoan", "note": "  "}, headers=auth
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "note"
    assert "--" not in response.json()["detail"]
