"""`GET /api/v1/ledger` in JSON, CSV and XLSX."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import pytest
from litestar.testing import AsyncTestClient

from recon.ledger.exports import parse_ledger_csv
from recon.settings import Settings
from tests.helpers import make_key
from tests.ledger.test_ledger import D1, D2, MOMO_D1, ward

__all__ = ["ward"]


@pytest.fixture
async def auth(settings: Settings) -> dict[str, str]:
    key = await make_key(settings, "ledger:read", "days:write")
    return {"Authorization": f"Bearer {key}"}


async def test_the_ledger_in_json(
    client: AsyncTestClient[Any], auth: dict[str, str], ward: None
) -> None:
    response = await client.get("/api/v1/ledger", params={"from": D1, "to": D2}, headers=auth)
    assert response.status_code == 200, response.text
    data = response.json()
    momo = next(r for r in data["rows"] if (r["date"], r["channel"]) == (D1, "momo"))
    assert {k: momo[k] for k in MOMO_D1} == MOMO_D1
    assert "content-disposition" not in response.headers


@pytest.mark.parametrize(
    ("params", "accept"),
    [({"format": "csv"}, "application/json"), ({}, "text/csv")],
)
async def test_the_ledger_in_csv_by_format_or_accept(
    client: AsyncTestClient[Any],
    auth: dict[str, str],
    ward: None,
    params: dict[str, str],
    accept: str,
) -> None:
    as_json = (
        await client.get("/api/v1/ledger", params={"from": D1, "to": D2}, headers=auth)
    ).json()
    response = await client.get(
        "/api/v1/ledger",
        params={"from": D1, "to": D2, **params},
        headers={**auth, "Accept": accept},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert (
        'filename="so-doi-soat_2025-11-24_2025-11-25.csv"'
        in response.headers["content-disposition"]
    )
    parsed = parse_ledger_csv(response.content)
    assert parsed["rows"] == as_json["rows"]
    assert parsed["totals"] == as_json["totals"]


async def test_the_ledger_in_xlsx(
    client: AsyncTestClient[Any], auth: dict[str, str], ward: None
) -> None:
    response = await client.get(
        "/api/v1/ledger", params={"from": D1, "to": D2, "format": "xlsx"}, headers=auth
    )
    assert response.status_code == 200
    assert "spreadsheetml" in response.headers["content-type"]
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.worksheets[0]["A1"].value.startswith("Sổ đối soát thanh toán")


@pytest.mark.parametrize(
    "params",
    [
        {"from": D1},
        {"from": "x", "to": D2},
        {"from": D2, "to": D1},
        {"from": D1, "to": D2, "format": "pdf"},
    ],
)
async def test_bad_ledger_queries(
    client: AsyncTestClient[Any], auth: dict[str, str], params: dict[str, str]
) -> None:
    response = await client.get("/api/v1/ledger", params=params, headers=auth)
    assert response.status_code in (400, 422)
    assert set(response.json()) == {"status", "title", "detail", "errors"}
