"""API keys: stored hashed, scoped, checked on every /api/v1 route (401 / 403 with the error shape)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from recon.app import create_app
from recon.db.models import ApiKey
from recon.db.session import open_database
from recon.settings import Settings
from tests.helpers import make_key

BODY = {
    "procedure_code": "1.001612",
    "fee_amount": 1500,
    "state": "received",
    "submitted_at": "2025-11-24T09:30:00+07:00",
}


def api_routes(app: Litestar) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        if not route.path.startswith("/api/"):
            continue
        for method in sorted(getattr(route, "methods", set()) - {"OPTIONS", "HEAD"}):
            path = re.sub(r"\{[a-z_]+:int\}", "1", route.path)
            found.append((method, re.sub(r"\{[a-z_]+:str\}", "H1", path)))
    return found


def test_every_api_route_is_listed_for_the_check(settings: Settings) -> None:
    assert ("PUT", "/api/v1/dossiers/H1") in api_routes(create_app(settings))
    assert ("POST", "/api/v1/dossiers:batch") in api_routes(create_app(settings))


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer rk_nope_nope", "Bearer x"],
)
async def test_every_api_route_refuses_a_missing_or_bad_key(
    client: AsyncTestClient[Any], settings: Settings, header: str | None
) -> None:
    headers = {"Authorization": header} if header is not None else {}
    for method, path in api_routes(create_app(settings)):
        response = await client.request(method, path, json=BODY, headers=headers)
        assert response.status_code == 401, (method, path)
        body = response.json()
        assert body["status"] == 401
        assert body["title"] == "Unauthorized"
        assert set(body) == {"status", "title", "detail", "errors"}


async def test_a_key_without_the_scope_is_403(
    client: AsyncTestClient[Any], settings: Settings
) -> None:
    key = await make_key(settings, "payments:read")
    response = await client.put(
        "/api/v1/dossiers/H1", json=BODY, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 403
    assert "dossiers:write" in response.json()["detail"]


async def test_a_key_with_the_scope_passes(
    client: AsyncTestClient[Any], settings: Settings
) -> None:
    key = await make_key(settings, "dossiers:write")
    response = await client.put(
        "/api/v1/dossiers/H1", json=BODY, headers={"Authorization": f"bearer {key}"}
    )
    assert response.status_code == 201


async def test_a_tampered_key_is_refused(client: AsyncTestClient[Any], settings: Settings) -> None:
    key = await make_key(settings, "dossiers:write")
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    response = await client.put(
        "/api/v1/dossiers/H1", json=BODY, headers={"Authorization": f"Bearer {tampered}"}
    )
    assert response.status_code == 401


def test_keys_are_created_listed_and_revoked_from_the_cli(
    run_cli: Callable[..., Any], settings: Settings
) -> None:
    created = run_cli(
        "apikeys",
        "create",
        "--name",
        "mot-cua",
        "--scope",
        "dossiers:write",
        "--scope",
        "payments:read",
        "--json",
    )
    assert created.code == 0, created
    new = json.loads(created.out)
    assert set(new) >= {"id", "name", "scopes", "key"}
    assert new["scopes"] == ["dossiers:write", "payments:read"]

    async def stored() -> ApiKey:
        async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
            return (await s.execute(select(ApiKey))).scalar_one()

    row = asyncio.run(stored())
    assert new["key"] not in (row.key_hash, row.key_id, row.scopes)
    assert len(row.key_hash) == 64

    listed = run_cli("apikeys", "list", "--json")
    assert new["key"] not in listed.out
    assert json.loads(listed.out)[0]["revoked_at"] is None

    revoked = run_cli("apikeys", "revoke", str(new["id"]), "--json")
    assert revoked.code == 0
    assert json.loads(revoked.out)["revoked_at"] is not None


async def test_a_revoked_key_is_refused(client: AsyncTestClient[Any], settings: Settings) -> None:
    key = await make_key(settings, "dossiers:write")
    from datetime import UTC, datetime

    from recon.auth.service import revoke_api_key

    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
        key_id = (await s.execute(select(ApiKey.id))).scalar_one()
        await revoke_api_key(db_session=s, key_id=key_id, now=datetime.now(UTC))
    response = await client.put(
        "/api/v1/dossiers/H1", json=BODY, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--name", "x", "--scope", "everything"), "unknown scope 'everything'"),
        (("--name", "x"), "give at least one --scope"),
        (("--name", " ", "--scope", "cases:read"), "name is 1 to 100 characters"),
    ],
)
def test_a_bad_key_request_is_one_line_and_exit_2(
    run_cli: Callable[..., Any], args: tuple[str, ...], message: str
) -> None:
    result = run_cli("apikeys", "create", *args)
    assert result.code == 2
    assert message in result.err
    assert result.err.count("\n") == 1


def test_revoking_an_unknown_key_is_an_error(run_cli: Callable[..., Any]) -> None:
    result = run_cli("apikeys", "revoke", "999")
    assert result.code == 2
    assert "no API key with id 999" in result.err
