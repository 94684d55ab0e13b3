"""PUT /api/v1/dossiers/{code} and POST /api/v1/dossiers:batch (DESIGN 2.5), on both databases."""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from recon.settings import Settings
from tests.helpers import make_key

CODE = "H17.25-241125-0042"


def dossier(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "procedure_code": "1.001612",
        "procedure_name": "Chứng thực bản sao từ bản chính",
        "applicant": "Nguyễn Văn An",
        "fee_amount": 1500,
        "state": "received",
        "submitted_at": "2025-11-24T09:30:00+07:00",
        "payment_refs": ["MM2411250001"],
    }
    body.update(changes)
    return body


@pytest.fixture
async def writer(settings: Settings) -> dict[str, str]:
    key = await make_key(settings, "dossiers:write")
    return {"Authorization": f"Bearer {key}"}


async def test_put_creates_with_201_then_updates_with_200(
    client: AsyncTestClient[Any], writer: dict[str, str]
) -> None:
    created = await client.put(f"/api/v1/dossiers/{CODE}", json=dossier(), headers=writer)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["dossier_code"] == CODE
    assert body["fee_amount"] == 1500
    assert body["submitted_at"] == "2025-11-24T02:30:00Z"
    assert body["payment_refs"] == ["MM2411250001"]

    same = await client.put(f"/api/v1/dossiers/{CODE}", json=dossier(), headers=writer)
    assert same.status_code == 200
    assert same.json()["updated_at"] == body["updated_at"]

    changed = await client.put(
        f"/api/v1/dossiers/{CODE.lower()}", json=dossier(fee_amount=3000), headers=writer
    )
    assert changed.status_code == 200
    assert changed.json()["fee_amount"] == 3000
    assert changed.json()["dossier_code"] == CODE


@pytest.mark.parametrize(
    ("fee", "reason"),
    [
        ("1500", "must be a JSON integer"),
        (1500.0, "must be a JSON integer"),
        (1500.5, "must be a JSON integer"),
        (-1, ">= 0"),
        (10**15 + 1, "<= 1000000000000000"),
        (True, "must be a JSON integer"),
        (None, "must be a JSON integer"),
    ],
)
async def test_money_must_be_a_json_integer(
    client: AsyncTestClient[Any], writer: dict[str, str], fee: Any, reason: str
) -> None:
    response = await client.put(
        f"/api/v1/dossiers/{CODE}", content=json.dumps(dossier(fee_amount=fee)), headers=writer
    )
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"status", "title", "detail", "errors"}
    [error] = body["errors"]
    assert error["field"] == "fee_amount"
    assert reason in error["reason"]


async def test_an_unknown_field_is_refused(
    client: AsyncTestClient[Any], writer: dict[str, str]
) -> None:
    response = await client.put(f"/api/v1/dossiers/{CODE}", json=dossier(fee=1500), headers=writer)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "fee", "reason": "unknown field"}]


async def test_malformed_json_is_400(client: AsyncTestClient[Any], writer: dict[str, str]) -> None:
    response = await client.put(f"/api/v1/dossiers/{CODE}", content=b"{", headers=writer)
    assert response.status_code == 400
    assert response.json()["title"] == "Bad Request"


async def test_the_body_code_must_match_the_path(
    client: AsyncTestClient[Any], writer: dict[str, str]
) -> None:
    response = await client.put(
        f"/api/v1/dossiers/{CODE}", json=dossier(dossier_code="H-OTHER"), headers=writer
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "dossier_code"


async def test_a_lookalike_code_conflicts_with_the_stored_one(
    client: AsyncTestClient[Any], writer: dict[str, str]
) -> None:
    assert (
        await client.put(f"/api/v1/dossiers/{CODE}", json=dossier(), headers=writer)
    ).status_code == 201
    response = await client.put(
        "/api/v1/dossiers/H1725241125 0042", json=dossier(payment_refs=[]), headers=writer
    )
    assert response.status_code == 409
    assert "normalises like" in response.json()["detail"]


def batch_item(n: int, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"dossier_code": f"H17.25-241125-{n:04d}", "payment_refs": [f"MM{n}"]}
    return dossier(**{**values, **changes})


async def test_batch_upserts_and_reports_the_summary(
    client: AsyncTestClient[Any], writer: dict[str, str]
) -> None:
    items = [batch_item(n) for n in range(1, 6)]
    first = await client.post("/api/v1/dossiers:batch", json={"dossiers": items}, headers=writer)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "received": 5,
        "inserted": 5,
        "updated": 0,
        "duplicates": 0,
        "rejected": [],
    }
    items[0]["state"] = "completed"
    again = await client.post("/api/v1/dossiers:batch", json={"dossiers": items}, headers=writer)
    assert again.json() == {
        "received": 5,
        "inserted": 0,
        "updated": 1,
        "duplicates": 4,
        "rejected": [],
    }


async def test_a_batch_with_bad_rows_stores_nothing_and_names_every_row(
    client: AsyncTestClient[Any], writer: dict[str, str]
) -> None:
    items = [
        batch_item(1),
        batch_item(2, fee_amount="1500"),
        batch_item(3, state="lost"),
        batch_item(4),
    ]
    response = await client.post("/api/v1/dossiers:batch", json={"dossiers": items}, headers=writer)
    assert response.status_code == 422
    body = response.json()
    assert "nothing was stored" in body["detail"]
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(2, "fee_amount"), (3, "state")]
    lookup = await client.put(
        f"/api/v1/dossiers/{items[0]['dossier_code']}", json=batch_item(1), headers=writer
    )
    assert lookup.status_code == 201  # row 1 had not been stored


async def test_a_batch_naming_a_code_twice_is_refused(
    client: AsyncTestClient[Any], writer: dict[str, str]
) -> None:
    items = [batch_item(1), batch_item(1, payment_refs=[])]
    response = await client.post("/api/v1/dossiers:batch", json={"dossiers": items}, headers=writer)
    assert response.status_code == 422
    assert response.json()["errors"][0]["row"] == 2


@pytest.mark.parametrize("body", [b"[]", b'{"items": []}', b'{"dossiers": {}}', b"nope"])
async def test_a_batch_of_the_wrong_shape_is_400(
    client: AsyncTestClient[Any], writer: dict[str, str], body: bytes
) -> None:
    response = await client.post("/api/v1/dossiers:batch", content=body, headers=writer)
    assert response.status_code == 400


async def test_a_batch_of_10000_fits_and_10001_is_refused(
    client: AsyncTestClient[Any], writer: dict[str, str]
) -> None:
    long_name = "Cấp giấy phép xây dựng nhà ở riêng lẻ tại đô thị " * 8
    items = [
        batch_item(n, procedure_name=long_name, applicant="Nguyễn Thị Minh Khai")
        for n in range(10_000)
    ]
    response = await client.post("/api/v1/dossiers:batch", json={"dossiers": items}, headers=writer)
    assert response.status_code == 200, response.text[:500]
    assert response.json()["inserted"] == 10_000
    items.append(batch_item(10_000))
    too_many = await client.post("/api/v1/dossiers:batch", json={"dossiers": items}, headers=writer)
    assert too_many.status_code == 422
    assert "at most 10,000" in too_many.json()["detail"]
