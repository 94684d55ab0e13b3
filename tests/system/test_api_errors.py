"""API errors an integrator can act on: an id that cannot exist is 404, a bad parameter value is
422 whatever the mistake, a body that cannot be read is 400, and every one of them names the
field at fault in `errors`, in the API's words (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from recon.auth.service import SCOPES
from recon.settings import Settings
from tests.helpers import make_key

BEYOND_64_BITS = "9223372036854775808"  # 2^63: no BIGINT id is that large


@pytest.fixture
async def auth(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {await make_key(settings, *SCOPES)}"}


def fields(response: Any) -> list[str | None]:
    return [error["field"] for error in response.json()["errors"]]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/api/v1/cases/{BEYOND_64_BITS}", "case_id"),
        ("/api/v1/cases/99999999999999999999999", "case_id"),
        ("/api/v1/cases/-1", "case_id"),
        ("/api/v1/cases/0", "case_id"),
        (f"/api/v1/runs/{BEYOND_64_BITS}", "run_id"),
        ("/api/v1/runs/-5", "run_id"),
    ],
)
async def test_an_id_that_cannot_exist_is_404_naming_it(
    client: AsyncTestClient[Any], auth: dict[str, str], path: str, field: str
) -> None:
    response = await client.get(path, headers=auth)
    assert response.status_code == 404, response.text
    assert set(response.json()) == {"status", "title", "detail", "errors"}
    assert fields(response) == [field]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/cases", {"cursor": "99999999999999999999999"}, "cursor"),
        ("/api/v1/cases", {"cursor": BEYOND_64_BITS}, "cursor"),
        ("/api/v1/cases", {"cursor": "-1"}, "cursor"),
        ("/api/v1/cases", {"cursor": "abc"}, "cursor"),
        ("/api/v1/cases", {"limit": "0"}, "limit"),
        ("/api/v1/cases", {"limit": "abc"}, "limit"),
        ("/api/v1/cases", {"limit": "1001"}, "limit"),
        ("/api/v1/cases", {"status": "bogus"}, "status"),
        ("/api/v1/cases", {"type": "bogus"}, "type"),
        ("/api/v1/cases", {"channel": "paypal"}, "channel"),
        ("/api/v1/cases", {"date": "24/11/2025"}, "date"),
        ("/api/v1/runs", {"limit": "0"}, "limit"),
        ("/api/v1/runs", {"limit": "abc"}, "limit"),
        ("/api/v1/runs", {"date": "tomorrow"}, "date"),
        ("/api/v1/ledger", {"from": "2025-11-24"}, "to"),
        ("/api/v1/ledger", {"from": "2025-11-24", "to": "2025-11-24", "format": "pdf"}, "format"),
        ("/api/v1/ledger", {"from": "2025-11-24", "to": "2025-11-24", "channel": "x"}, "channel"),
    ],
)
async def test_a_bad_query_parameter_is_422_naming_it(
    client: AsyncTestClient[Any],
    auth: dict[str, str],
    path: str,
    params: dict[str, str],
    field: str,
) -> None:
    response = await client.get(path, params=params, headers=auth)
    assert response.status_code == 422, response.text
    assert fields(response) == [field]
    assert "--" not in response.text  # never the CLI's option names


async def test_each_bad_filter_is_named(client: AsyncTestClient[Any], auth: dict[str, str]) -> None:
    params = {"status": "bogus", "type": "bogus", "channel": "paypal"}
    response = await client.get("/api/v1/cases", params=params, headers=auth)
    assert response.status_code == 422
    assert fields(response) == ["status", "type", "channel"]


async def test_a_cursor_past_the_last_case_is_an_empty_page(
    client: AsyncTestClient[Any], auth: dict[str, str]
) -> None:
    response = await client.get(
        "/api/v1/cases", params={"cursor": "9223372036854775807"}, headers=auth
    )
    assert response.status_code == 200, response.text
    assert response.json()["cases"] == []


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("PUT", "/api/v1/dossiers/H1", b"not json", "body"),
        ("PUT", "/api/v1/dossiers/H1", b"", "body"),
        ("PUT", "/api/v1/dossiers/H1", b"[1, 2]", "body"),
        ("POST", "/api/v1/dossiers:batch", b"{", "body"),
        ("POST", "/api/v1/dossiers:batch", b'{"dossiers": 1}', "dossiers"),
        ("POST", "/api/v1/days/2025-11-24/close", b"not json", "body"),
        ("POST", "/api/v1/days/2025-11-24/close", b'{"user": "a", "note": "b", "x": 1}', "x"),
        ("POST", "/api/v1/days/2025-11-24/close", b'{"user": 1, "note": "b"}', "user"),
    ],
)
async def test_a_body_that_cannot_be_read_is_400_naming_what(
    client: AsyncTestClient[Any],
    auth: dict[str, str],
    method: str,
    path: str,
    body: bytes,
    field: str,
) -> None:
    headers = {**auth, "Content-Type": "application/json"}
    response = await client.request(method, path, content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert fields(response) == [field]
