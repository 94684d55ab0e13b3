"""On SQLite, requests that only read never wait for the write lock: a long import (which holds
it for its whole transaction) does not hold up the API or the web pages."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.engine import make_url

from recon.app import create_app
from recon.db import session as db_session_module
from recon.settings import Settings
from tests.helpers import make_key

PASSWORD = "a long enough password"


@pytest.fixture
def sqlite_path(database_url: str) -> str:
    if not database_url.startswith("sqlite"):
        pytest.skip("the write lock that readers must not wait for is SQLite's")
    path = make_url(database_url).database
    assert path is not None
    return path


@pytest.fixture
def viewer(run_cli: Callable[..., Any]) -> None:
    args = ("users", "create", "--username", "ketoan", "--role", "viewer")
    assert run_cli(*args, stdin=PASSWORD + "\n").code == 0


async def test_reads_go_on_while_another_connection_holds_the_write_lock(
    settings: Settings, sqlite_path: str, viewer: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = await make_key(settings, "cases:read", "dossiers:write")
    basic = base64.b64encode(f"ketoan:{PASSWORD}".encode()).decode()
    # a writer gives up after 0.2 s instead of 10: what waits for the lock fails quickly
    monkeypatch.setattr(db_session_module, "SQLITE_BUSY_TIMEOUT_MS", 200)
    async with AsyncTestClient(app=create_app(settings)) as client:
        holder = sqlite3.connect(sqlite_path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # an import in progress, say
        try:
            cases = await client.get("/api/v1/cases", headers={"Authorization": f"Bearer {key}"})
            page = await client.get("/so-doi-soat", headers={"Authorization": f"Basic {basic}"})
            write = await client.put(
                "/api/v1/dossiers/H17.25-241125-0001",
                headers={"Authorization": f"Bearer {key}"},
                json={
                    "procedure_code": "1.001",
                    "procedure_name": "Chứng thực bản sao",
                    "applicant": "Nguyễn Văn An",
                    "fee_amount": 15000,
                    "state": "received",
                    "submitted_at": "2024-11-25T09:00:00+07:00",
                },
            )
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    assert cases.status_code == 200, cases.text
    assert page.status_code == 200, page.text
    assert write.status_code >= 500, write.text  # the write really had to wait, and gave up


@pytest.mark.parametrize(
    "command",
    [
        ("ledger", "--from", "2024-11-01", "--to", "2024-11-30", "--format", "csv"),
        ("cases", "list", "--json"),
        ("days", "list", "--events", "--json"),
        ("apikeys", "list", "--json"),
    ],
)
def test_commands_that_only_read_go_on_while_the_write_lock_is_held(
    sqlite_path: str,
    run_cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    command: tuple[str, ...],
) -> None:
    monkeypatch.setattr(db_session_module, "SQLITE_BUSY_TIMEOUT_MS", 200)
    holder = sqlite3.connect(sqlite_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        done = run_cli(*command)
        refused = run_cli("days", "close", "--date", "2024-11-25", "--user", "x", "--note", "n")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert done.code == 0, done.err
    assert refused.code != 0, refused.out
    assert "locked" in refused.err  # a write in the same moment had to wait, and gave up
