"""HEAD on the probes, and `/schema` that works with no network: every script, style sheet and
icon of the page is served by the app itself."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from recon.app import create_app
from recon.settings import load_settings

PROBES = ["/healthz", "/readyz", "/metrics"]


@pytest.mark.parametrize("path", PROBES)
async def test_head_answers_like_get_without_a_body(
    client: AsyncTestClient[Any], path: str
) -> None:
    got = await client.get(path)
    head = await client.head(path)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    if path != "/metrics":  # the counters move between the two requests
        assert head.headers["content-length"] == str(len(got.content))


async def test_head_on_readyz_is_503_on_an_unmigrated_database(tmp_path: Path) -> None:
    settings = load_settings({"RECON_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"})
    async with AsyncTestClient(app=create_app(settings)) as client:
        head = await client.head("/readyz")
        got = await client.get("/readyz")
    assert head.status_code == got.status_code == 503
    assert head.content == b""
    assert head.headers["content-length"] == str(len(got.content))


@pytest.mark.parametrize("path", PROBES)
async def test_other_methods_are_still_405(client: AsyncTestClient[Any], path: str) -> None:
    response = await client.delete(path)
    assert response.status_code == 405
    assert {"GET", "HEAD"} <= set(response.headers["allow"].replace(" ", "").split(","))


async def test_the_schema_page_loads_nothing_from_the_network(
    client: AsyncTestClient[Any],
) -> None:
    page = await client.get("/schema")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "SwaggerUIBundle" in page.text
    references = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert references
    assert not [ref for ref in references if not ref.startswith("/")], references
    for ref in references:
        asset = await client.get(ref)
        assert asset.status_code == 200, ref
        assert asset.content
    script = await client.get("/schema/swagger-ui/swagger-ui-bundle.js")
    assert "javascript" in script.headers["content-type"]


async def test_the_schema_is_served_as_json_and_yaml(client: AsyncTestClient[Any]) -> None:
    as_json = await client.get("/schema/openapi.json")
    assert as_json.status_code == 200
    assert as_json.json()["openapi"].startswith("3.1")
    as_yaml = await client.get("/schema/openapi.yaml")
    assert as_yaml.status_code == 200
    assert "openapi:" in as_yaml.text


async def test_every_api_route_documents_its_errors_in_the_error_shape(
    client: AsyncTestClient[Any],
) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    error_shape = document["components"]["schemas"]["ErrorBody"]
    assert set(error_shape["required"]) == {"status", "title", "detail", "errors"}
    for path, item in document["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in item.items():
            for status in ("400", "401", "403", "404", "422"):
                response = operation["responses"].get(status)
                assert response, f"{method.upper()} {path} does not document {status}"
                schema = response["content"]["application/json"]["schema"]
                assert schema["$ref"].endswith("/ErrorBody"), (method, path, status)
