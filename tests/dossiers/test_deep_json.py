"""JSON nested deeper than the decoder goes: a malformed body (400) or file (exit 2), not an
internal error, and nothing stored."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from recon.settings import Settings
from tests.dossiers.test_time_range import stored
from tests.helpers import make_key

DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/api/v1/dossiers/H1", DEEP),
        ("POST", "/api/v1/dossiers:batch", b'{"dossiers": ' + DEEP + b"}"),
    ],
)
async def test_a_deeply_nested_body_is_400(
    client: AsyncTestClient[Any], settings: Settings, method: str, path: str, body: bytes
) -> None:
    key = await make_key(settings, "dossiers:write")
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    response = await client.request(method, path, content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["errors"] == [
        {"field": "body", "reason": "the JSON is nested too deeply"}
    ]
    assert await stored(settings) == 0


def test_a_deeply_nested_json_file_is_refused(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(DEEP)
    result = run_cli("dossiers", "import", str(path), "--json")
    assert result.code == 2, result
    assert "internal error" not in result.err
    report = json.loads(result.out)
    assert report["inserted"] == 0
    assert [r["reason"] for r in report["rejected"]] == ["malformed JSON: nested too deeply"]
