"""Health, readiness, OpenAPI, the one error shape and request ids."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from recon.app import create_app
from recon.db.migrate import head_revision
from recon.settings import Settings, load_settings


async def test_healthz(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_when_migrated(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["schema"] == head_revision() == "0009"


async def test_readyz_is_503_on_an_unmigrated_database(tmp_path: Path) -> None:
    settings = load_settings({"RECON_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"})
    async with AsyncTestClient(app=create_app(settings)) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert "recon db upgrade" in response.json()["detail"]


async def test_readyz_is_503_when_the_database_is_unreachable() -> None:
    settings = load_settings({"RECON_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    async with AsyncTestClient(app=create_app(settings)) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["detail"].startswith("database unreachable")


async def test_openapi_lists_the_api(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/dossiers/{code}" in paths
    assert "/api/v1/dossiers:batch" in paths
    body = paths["/api/v1/dossiers/{code}"]["put"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("DossierIn")
    schemas = response.json()["components"]["schemas"]
    assert schemas["DossierIn"]["properties"]["fee_amount"]["type"] == "integer"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/nowhere", 404), ("DELETE", "/healthz", 405), ("GET", "/api/v1/nowhere", 404)],
)
async def test_every_error_has_the_one_shape(
    client: AsyncTestClient[Any], method: str, path: str, status: int
) -> None:
    response = await client.request(method, path)
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"status", "title", "detail", "errors"}
    assert body["status"] == status
    assert isinstance(body["errors"], list)


async def test_an_unexpected_error_is_a_500_in_the_shape_without_internals(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import recon.dossiers.controllers as controllers

    async def explode(**_: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(controllers, "upsert_dossiers", explode)
    from tests.helpers import make_key

    key = await make_key(settings, "dossiers:write")
    body = {
        "procedure_code": "P",
        "fee_amount": 1,
        "state": "received",
        "submitted_at": "2025-01-01T00:00:00+07:00",
    }
    async with AsyncTestClient(app=create_app(settings), raise_server_exceptions=False) as client:
        response = await client.put(
            "/api/v1/dossiers/H1", json=body, headers={"Authorization": f"Bearer {key}"}
        )
    assert response.status_code == 500
    assert set(response.json()) == {"status", "title", "detail", "errors"}
    assert "secret internals" not in response.text


async def test_a_request_id_is_made_or_taken_and_echoed(
    client: AsyncTestClient[Any], caplog: pytest.LogCaptureFixture
) -> None:
    made = await client.get("/healthz")
    assert len(made.headers["x-request-id"]) == 16
    with caplog.at_level(logging.INFO, logger="recon.access"):
        taken = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert taken.headers["x-request-id"] == "abc-123"
    refused = await client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert refused.headers["x-request-id"] != "bad id\nwith newline"
    assert any("GET /healthz 200" in r.getMessage() for r in caplog.records)


async def test_metrics_count_requests(client: AsyncTestClient[Any]) -> None:
    await client.get("/healthz")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert 'recon_http_requests_total{method="GET",route="/healthz",status="200"}' in response.text
