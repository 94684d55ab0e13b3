"""`GET /api/v1/cases`, `/cases/{id}`, `/runs`, `/runs/{id}`: filters, pagination, detail, scopes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from recon.settings import Settings
from tests.helpers import make_key
from tests.runs.test_reconcile import D1, reconcile, ward

__all__ = ["ward"]


@pytest.fixture
async def reader(settings: Settings) -> dict[str, str]:
    key = await make_key(settings, "cases:read", "runs:read")
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def reconciled(run_cli: Callable[..., Any], ward: None) -> dict[str, Any]:
    return reconcile(run_cli, D1, "--channel", "vnpay")


async def test_cases_are_listed_with_counts_by_type(
    client: AsyncTestClient[Any], reader: dict[str, str], reconciled: dict[str, Any]
) -> None:
    response = await client.get("/api/v1/cases", headers=reader)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == 4
    assert page["counts_by_type"] == {
        "OVERPAID": 1,
        "PAYMENT_ON_CLOSED_DOSSIER": 1,
        "UNDERPAID": 1,
        "UNMATCHED_PAYMENT": 1,
    }
    assert page["next_cursor"] is None
    first = page["cases"][0]
    assert set(first) >= {
        "id",
        "type",
        "status",
        "date",
        "channel",
        "dossier_code",
        "expected_amount",
        "actual_amount",
        "channel_txn_ids",
        "explanation",
    }


async def test_pagination_is_stable_and_complete(
    client: AsyncTestClient[Any], reader: dict[str, str], reconciled: dict[str, Any]
) -> None:
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor is not None:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/cases", params=params, headers=reader)).json()
        seen += [c["id"] for c in page["cases"]]
        assert page["total"] == 4
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) == 4


async def test_filters(
    client: AsyncTestClient[Any], reader: dict[str, str], reconciled: dict[str, Any]
) -> None:
    async def count(**params: str) -> int:
        response = await client.get("/api/v1/cases", params=params, headers=reader)
        assert response.status_code == 200, response.text
        total: int = response.json()["total"]
        return total

    assert await count(type="underpaid") == 1
    assert await count(date=D1, channel="vnpay") == 4
    assert await count(date="2025-11-25") == 0
    assert await count(status="closed") == 0
    bad = await client.get("/api/v1/cases", params={"date": "24/11/2025"}, headers=reader)
    assert bad.status_code == 422
    assert set(bad.json()) == {"status", "title", "detail", "errors"}
    assert (
        await client.get("/api/v1/cases", params={"limit": 0}, headers=reader)
    ).status_code == 422


async def test_one_case_in_full(
    client: AsyncTestClient[Any], reader: dict[str, str], reconciled: dict[str, Any]
) -> None:
    page = (await client.get("/api/v1/cases", params={"type": "UNDERPAID"}, headers=reader)).json()
    case_id = page["cases"][0]["id"]
    detail = (await client.get(f"/api/v1/cases/{case_id}", headers=reader)).json()
    assert detail["dossier"]["dossier_code"] == "H17.25-241125-0002"
    assert [line["channel_txn_id"] for line in detail["lines"]] == ["V2"]
    assert detail["lines"][0]["amount"] == 10_000
    assert [event["action"] for event in detail["history"]] == ["opened"]
    assert detail["history"][0]["actor"] is None  # the engine
    missing = await client.get("/api/v1/cases/999999", headers=reader)
    assert missing.status_code == 404


async def test_runs_are_listed(
    client: AsyncTestClient[Any], reader: dict[str, str], reconciled: dict[str, Any]
) -> None:
    runs = (await client.get("/api/v1/runs", headers=reader)).json()
    assert runs[0]["run_id"] == reconciled["run_id"]
    assert runs[0]["cases_opened"] == 4
    one = await client.get(f"/api/v1/runs/{reconciled['run_id']}", headers=reader)
    assert one.json()["status"] == "succeeded"


async def test_reading_cases_needs_the_scope(
    client: AsyncTestClient[Any], settings: Settings, reconciled: dict[str, Any]
) -> None:
    key = await make_key(settings, "dossiers:write")
    response = await client.get("/api/v1/cases", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 403
