"""`recon runs list` and `GET /api/v1/runs`: runs newest first, each the run object of DESIGN 6
plus when it started and finished, its trigger, its channel and its error; abandoned runs; the
`runs:read` scope. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import insert, select

from recon.db.models import Run, RunLease
from recon.db.session import open_database
from recon.runs import lease
from recon.settings import Settings
from tests.helpers import make_key
from tests.runs.test_range_cli import RUN_FIELDS
from tests.runs.test_reconcile import D1, D2, reconcile, ward

__all__ = ["ward"]

VIEW_FIELDS = RUN_FIELDS | {
    "started_at",
    "finished_at",
    "trigger",
    "channel",
    "error",
}
D0 = "2025-11-23"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def runs_list(run_cli: Callable[..., Any], *args: str) -> list[dict[str, Any]]:
    result = run_cli("runs", "list", "--json", *args)
    assert result.code == 0, result
    assert result.err == ""
    found: list[dict[str, Any]] = json.loads(result.out)
    return found


def insert_run(
    settings: Settings,
    *,
    day: date,
    status: str = "running",
    trigger: str = "nightly",
    started_at: datetime,
    lease_expires_at: datetime | None = None,
) -> int:
    """A run row as a process that died left it: `running`, with (or without) its lease."""

    async def go() -> int:
        async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
            run_id: int = (
                await s.execute(
                    insert(Run)
                    .values(
                        business_day=day,
                        channel=None,
                        status=status,
                        trigger=trigger,
                        started_at=started_at,
                    )
                    .returning(Run.id)
                )
            ).scalar_one()
            if lease_expires_at is not None:
                await s.execute(
                    insert(RunLease).values(
                        business_day=day,
                        run_id=run_id,
                        holder=f"dead-host:1:run {run_id}",
                        acquired_at=started_at,
                        expires_at=lease_expires_at,
                    )
                )
            await s.commit()
            return run_id

    return asyncio.run(go())


def sweep(settings: Settings, now: datetime) -> list[int]:
    async def go() -> list[int]:
        async with open_database(settings.database_url) as sessionmaker:
            return await lease.sweep(sessionmaker, now)

    return asyncio.run(go())


@pytest.fixture
def three_runs(run_cli: Callable[..., Any], ward: None) -> list[dict[str, Any]]:
    """Three runs in this order: D1 (vnpay), D2 (every channel), D1 again (every channel)."""
    first = reconcile(run_cli, D1, "--channel", "vnpay")
    second = reconcile(run_cli, D2)
    third = reconcile(run_cli, D1)
    return [first, second, third]


# --- the CLI ------------------------------------------------------------------------------


def test_runs_are_listed_newest_first_with_the_run_object_and_more(
    run_cli: Callable[..., Any], three_runs: list[dict[str, Any]]
) -> None:
    before = datetime.now(UTC)
    listed = runs_list(run_cli)
    assert [r["run_id"] for r in listed] == [r["run_id"] for r in reversed(three_runs)]
    for view, made in zip(listed, reversed(three_runs), strict=True):
        assert set(view) >= VIEW_FIELDS, view
        # the run object as the run printed it
        for field in RUN_FIELDS:
            assert view[field] == made[field], field
        assert view["trigger"] == "manual"
        assert view["error"] is None
        started, finished = utc(view["started_at"]), utc(view["finished_at"])
        assert started.utcoffset() == timedelta(0)
        assert started <= finished <= before
        assert before - started < timedelta(minutes=5)
    assert [r["channel"] for r in listed] == [None, None, "vnpay"]
    assert [r["date"] for r in listed] == [D1, D2, D1]
    # each channel: its status, lines and error
    for name in ("momo", "portal", "bank", "vnpay"):
        part = listed[0]["channels"][name]
        assert {"status", "lines", "error"} <= set(part)
        assert (part["status"], part["error"]) == ("skipped", None)
    assert set(listed[2]["channels"]) == {"vnpay"}
    oldest = listed[2]
    assert (oldest["matched"], oldest["cases_opened"], oldest["cases_open"]) == (5, 4, 4)


def test_date_filters_and_limit_limits(
    run_cli: Callable[..., Any], three_runs: list[dict[str, Any]]
) -> None:
    ids = [r["run_id"] for r in three_runs]
    assert [r["run_id"] for r in runs_list(run_cli, "--date", D1)] == [ids[2], ids[0]]
    assert [r["run_id"] for r in runs_list(run_cli, "--date", D2)] == [ids[1]]
    assert runs_list(run_cli, "--date", D0) == []
    assert [r["run_id"] for r in runs_list(run_cli, "--limit", "1")] == [ids[2]]
    assert [r["run_id"] for r in runs_list(run_cli, "--limit", "2")] == [ids[2], ids[1]]
    assert [r["run_id"] for r in runs_list(run_cli, "--date", D1, "--limit", "1")] == [ids[2]]


def test_no_runs_is_an_empty_list(run_cli: Callable[..., Any]) -> None:
    assert runs_list(run_cli) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--date", "2025-11-31"), "--date: '2025-11-31' is not a date"),
        (("--limit", "0"), "--limit"),
        (("--limit", "many"), "--limit"),
    ],
)
def test_bad_filters_exit_2(
    run_cli: Callable[..., Any], args: tuple[str, ...], message: str
) -> None:
    result = run_cli("runs", "list", "--json", *args)
    assert result.code == 2, result
    assert result.out == ""
    assert result.err.count("\n") == 1
    assert message in result.err


def test_a_refused_run_is_not_listed(run_cli: Callable[..., Any], settings: Settings) -> None:
    now = datetime.now(UTC)
    insert_run(
        settings,
        day=date.fromisoformat(D1),
        status="succeeded",
        trigger="manual",
        started_at=now - timedelta(hours=1),
    )
    asyncio.run(_hold(settings, date.fromisoformat(D2), now + timedelta(minutes=5)))
    refused = run_cli("reconcile", "--date", D2, "--no-pull", "--json")
    assert refused.code == 4
    assert [r["date"] for r in runs_list(run_cli)] == [D1]


async def _hold(settings: Settings, day: date, until: datetime) -> None:
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
        await s.execute(
            insert(RunLease).values(
                business_day=day, holder="other:9", acquired_at=until, expires_at=until
            )
        )
        await s.commit()


# --- abandoned runs -----------------------------------------------------------------------


def test_a_run_whose_lease_expired_is_swept_to_abandoned_with_its_error(
    run_cli: Callable[..., Any], settings: Settings
) -> None:
    now = datetime.now(UTC)
    started = now - timedelta(minutes=10)
    dead = insert_run(
        settings,
        day=date.fromisoformat(D1),
        started_at=started,
        lease_expires_at=now - timedelta(minutes=8),
    )
    alive = insert_run(
        settings,
        day=date.fromisoformat(D2),
        trigger="catch_up",
        started_at=now - timedelta(seconds=5),
        lease_expires_at=now + timedelta(seconds=55),
    )
    [before_dead, before_alive] = sorted(runs_list(run_cli), key=lambda r: r["run_id"])
    assert (before_dead["status"], before_dead["finished_at"]) == ("running", None)
    assert before_dead["channels"] == {}  # a run shows its channels once it finishes

    assert sweep(settings, now) == [dead]
    listed = {r["run_id"]: r for r in runs_list(run_cli)}
    swept = listed[dead]
    assert swept["status"] == "abandoned"
    assert swept["trigger"] == "nightly"
    assert "lease" in (swept["error"] or "")
    assert utc(swept["finished_at"]) == now
    assert utc(swept["started_at"]) == started
    assert listed[alive]["status"] == "running"  # its lease still lives
    assert listed[alive]["error"] is None
    assert listed[alive] == before_alive


def test_a_run_whose_day_is_taken_over_is_abandoned(
    run_cli: Callable[..., Any], settings: Settings, ward: None
) -> None:
    now = datetime.now(UTC)
    dead = insert_run(
        settings,
        day=date.fromisoformat(D1),
        trigger="retry",
        started_at=now - timedelta(hours=1),
        lease_expires_at=now - timedelta(minutes=30),
    )
    taker = reconcile(run_cli, D1, "--channel", "vnpay")
    assert taker["status"] == "succeeded"
    newest, oldest = runs_list(run_cli, "--date", D1)
    assert newest["run_id"] == taker["run_id"]
    assert (newest["status"], newest["trigger"]) == ("succeeded", "manual")
    assert oldest["run_id"] == dead
    assert (oldest["status"], oldest["trigger"]) == ("abandoned", "retry")
    assert f"run {taker['run_id']} took its day" in oldest["error"]
    assert oldest["finished_at"] is not None


def test_the_readable_list_shows_trigger_status_local_times_and_the_error(
    run_cli: Callable[..., Any], settings: Settings, three_runs: list[dict[str, Any]]
) -> None:
    started = datetime(2025, 11, 25, 17, 30, tzinfo=UTC)  # 00:30 on the 26th in Hà Nội
    dead = insert_run(
        settings,
        day=date.fromisoformat(D2),
        started_at=started,
        lease_expires_at=started + timedelta(seconds=60),
    )
    assert sweep(settings, datetime(2025, 11, 25, 17, 45, tzinfo=UTC)) == [dead]
    result = run_cli("runs", "list")
    assert result.code == 0, result
    lines = result.out.splitlines()
    headlines = [line.split() for line in lines if not line.startswith("        ")]
    ids = [r["run_id"] for r in three_runs]
    assert [h[0] for h in headlines] == [str(dead), str(ids[2]), str(ids[1]), str(ids[0])]
    assert headlines[0][1:6] == [D2, "abandoned", "nightly", "2025-11-26", "00:30:00"]
    assert headlines[0][-1] == "00:45:00"  # finished, local time
    for words, day in zip(headlines[1:], [D1, D2, D1], strict=True):
        assert words[1:4] == [day, "succeeded", "manual"]
    error_lines = [line.strip() for line in lines if line.strip().startswith("error:")]
    assert error_lines == ["error: its process stopped renewing its lease"]
    assert "        vnpay: skipped" in lines


# --- the API ------------------------------------------------------------------------------


async def test_the_api_lists_runs_as_the_cli_does(
    client: AsyncTestClient[Any], settings: Settings, three_runs: list[dict[str, Any]]
) -> None:
    key = await make_key(settings, "runs:read")
    headers = {"Authorization": f"Bearer {key}"}
    response = await client.get("/api/v1/runs", headers=headers)
    assert response.status_code == 200, response.text
    listed = response.json()
    assert [r["run_id"] for r in listed] == [r["run_id"] for r in reversed(three_runs)]
    for view, made in zip(listed, reversed(three_runs), strict=True):
        assert set(view) >= VIEW_FIELDS
        assert view["trigger"] == "manual"
        assert view["channels"] == made["channels"]
        assert (view["matched"], view["cases_opened"], view["cases_open"]) == (
            made["matched"],
            made["cases_opened"],
            made["cases_open"],
        )
    # the one run by id: the same object
    one = await client.get(f"/api/v1/runs/{listed[1]['run_id']}", headers=headers)
    assert one.status_code == 200
    assert one.json() == listed[1]
    by_day = await client.get("/api/v1/runs", params={"date": D1, "limit": 1}, headers=headers)
    assert [r["run_id"] for r in by_day.json()] == [three_runs[2]["run_id"]]
    missing = await client.get("/api/v1/runs/999999", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["status"] == 404


def test_the_api_and_the_cli_give_the_same_objects(
    run_cli: Callable[..., Any], settings: Settings, three_runs: list[dict[str, Any]]
) -> None:
    from recon.app import create_app

    async def fetch() -> Any:
        key = await make_key(settings, "runs:read")
        async with AsyncTestClient(app=create_app(settings)) as api:
            response = await api.get("/api/v1/runs", headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == 200
            return response.json()

    assert asyncio.run(fetch()) == runs_list(run_cli)


async def test_an_abandoned_run_over_the_api(
    client: AsyncTestClient[Any], settings: Settings
) -> None:
    now = datetime.now(UTC)
    async with open_database(settings.database_url) as sessionmaker:
        async with sessionmaker() as s:
            run_id = (
                await s.execute(
                    insert(Run)
                    .values(
                        business_day=date.fromisoformat(D1),
                        channel=None,
                        status="running",
                        trigger="catch_up",
                        started_at=now - timedelta(minutes=5),
                    )
                    .returning(Run.id)
                )
            ).scalar_one()
            await s.commit()
        # no lease at all and running longer than a lease lives: abandoned too
        assert await lease.sweep(sessionmaker, now) == [run_id]
        async with sessionmaker() as s:
            assert (await s.execute(select(Run.status))).scalar_one() == "abandoned"
    key = await make_key(settings, "runs:read")
    response = await client.get(
        f"/api/v1/runs/{run_id}", headers={"Authorization": f"Bearer {key}"}
    )
    body = response.json()
    assert (body["status"], body["trigger"], body["channels"]) == ("abandoned", "catch_up", {})
    assert "lease" in body["error"]


@pytest.mark.parametrize("path", ["/api/v1/runs", "/api/v1/runs/1"])
async def test_runs_need_the_runs_read_scope(
    client: AsyncTestClient[Any], settings: Settings, path: str
) -> None:
    other = await make_key(settings, "cases:read", "ledger:read", "payments:read")
    forbidden = await client.get(path, headers={"Authorization": f"Bearer {other}"})
    assert forbidden.status_code == 403
    assert set(forbidden.json()) == {"status", "title", "detail", "errors"}
    anonymous = await client.get(path)
    assert anonymous.status_code == 401
    allowed = await make_key(settings, "runs:read")
    answered = await client.get(path, headers={"Authorization": f"Bearer {allowed}"})
    assert answered.status_code in (200, 404)  # /runs/1 does not exist yet


@pytest.mark.parametrize(
    "params",
    [{"date": "2025-02-30"}, {"limit": "0"}, {"limit": "501"}, {"limit": "x"}],
)
async def test_bad_api_filters_are_refused(
    client: AsyncTestClient[Any], settings: Settings, params: dict[str, str]
) -> None:
    key = await make_key(settings, "runs:read")
    response = await client.get(
        "/api/v1/runs", params=params, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code in (400, 422), response.text
    assert set(response.json()) == {"status", "title", "detail", "errors"}
