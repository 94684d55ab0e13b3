"""Shared fixtures. Every persistence test runs on SQLite and on PostgreSQL.

PostgreSQL comes from RECON_TEST_POSTGRES_URL; without it those tests skip with the reason.
Each test gets a clean, migrated database: a copy of a migrated SQLite file, or PostgreSQL's
tables truncated.
"""

from __future__ import annotations

import asyncio
import io
import os
import secrets
import shutil
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import create_engine, make_url, text

from recon.app import create_app
from recon.db.migrate import upgrade
from recon.db.models import Base
from recon.settings import Settings, load_settings

POSTGRES_URL = os.environ.get("RECON_TEST_POSTGRES_URL", "")
SKIP_POSTGRES = "RECON_TEST_POSTGRES_URL is not set: no PostgreSQL to test against"
CHANNELS_TOML = """
ward_name = "UBND phường Thử Nghiệm"
[channels.momo]
adapter = "momo"
base_url = "http://127.0.0.1:9101"
partner_code = "MOMOTEST"
access_key_env = "RECON_MOMO_ACCESS_KEY"
secret_key_env = "RECON_MOMO_SECRET_KEY"
[channels.portal]
adapter = "portal"
base_url = "http://127.0.0.1:9102"
client_id = "ubnd-test"
client_secret_env = "RECON_PORTAL_SECRET"
[channels.bank]
adapter = "bank"
base_url = "http://127.0.0.1:9103"
api_key_env = "RECON_BANK_API_KEY"
[channels.vnpay]
adapter = "file"
"""
CHANNEL_SECRETS = {
    "RECON_MOMO_ACCESS_KEY": "test-access",
    "RECON_MOMO_SECRET_KEY": "test-secret",
    "RECON_PORTAL_SECRET": "test-portal",
    "RECON_BANK_API_KEY": "test-bank",
}


def sync_url(async_url: str) -> str:
    return async_url.replace("+asyncpg", "+psycopg").replace("+aiosqlite", "")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "recon.db"
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this test session's own, made beside RECON_TEST_POSTGRES_URL's and
    dropped at the end, so that concurrent test runs never share tables."""
    if not POSTGRES_URL:
        pytest.skip(SKIP_POSTGRES)
    base = make_url(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"recon_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    asyncio.run(upgrade(url.replace("+psycopg", "+asyncpg")))
    yield url.replace("+psycopg", "+asyncpg")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_postgres(url: str) -> None:
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    engine = create_engine(sync_url(url))
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A clean, migrated database: SQLite file or PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "recon.db"
        shutil.copyfile(template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    _truncate_postgres(url)
    return url


@pytest.fixture
def environ(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a deployment with the four channels configured."""
    config = tmp_path / "recon.toml"
    config.write_text(CHANNELS_TOML, encoding="utf-8")
    return {"RECON_DATABASE_URL": database_url, "RECON_CONFIG": str(config), **CHANNEL_SECRETS}


@pytest.fixture
def settings(environ: dict[str, str]) -> Settings:
    return load_settings(environ)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"CliResult(code={self.code}, out={self.out!r}, err={self.err!r})"


@pytest.fixture(autouse=True, scope="session")
def runner_keeps_its_priority() -> Iterator[None]:
    """A run or the scheduler started in-process (run_cli, the faults' baseline) would lower
    the test runner's own priority for the rest of the session; tests/runs/test_priority.py
    checks that the commands ask for it, and what it does in a process of its own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("recon.runs.cli.background_priority", lambda: 0)
        patch.setattr("recon.schedule.cli.background_priority", lambda: 0)
        yield


@pytest.fixture
def run_cli(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., CliResult]]:
    """Run `recon ARGS…` in-process against the test database; returns code, stdout, stderr."""
    from recon.cli import main

    for key, value in environ.items():
        monkeypatch.setenv(key, value)

    def run(*args: str, stdin: str = "") -> CliResult:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
