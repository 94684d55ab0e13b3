"""`recon db upgrade` needs RECON_DATABASE_URL and nothing else (issue 15).

A deployment migrates before anything else starts, and compose gives every container the channel
secret variables empty when .env leaves them so: the migration must not refuse for a secret it
never uses. Every command that does use the channels still refuses, naming the variable.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from recon.cli import main
from recon.db.migrate import head_revision
from recon.db.session import create_engine
from recon.settings import database_url, load_settings

CONFIG = """
[channels.momo]
adapter = "momo"
base_url = "http://simulators:9101"
partner_code = "MOMOXYZ"
access_key_env = "RECON_MOMO_ACCESS_KEY"
secret_key_env = "RECON_MOMO_SECRET_KEY"
"""


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment compose gives a container when .env leaves the secrets empty."""
    config = tmp_path / "recon.toml"
    config.write_text(CONFIG, encoding="utf-8")
    database = tmp_path / "db" / "recon.db"
    monkeypatch.setenv("RECON_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("RECON_CONFIG", str(config))
    monkeypatch.setenv("RECON_MOMO_ACCESS_KEY", "")
    monkeypatch.setenv("RECON_MOMO_SECRET_KEY", "")
    return database


def schema_of(path: Path) -> str | None:
    from recon.db.migrate import current_revision

    async def read() -> str | None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            return await current_revision(engine)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_db_upgrade_migrates_with_the_channel_secrets_empty(
    deployment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade", "--json"]) == 0
    assert f'"schema":"{head_revision()}"' in capsys.readouterr().out
    assert schema_of(deployment) == head_revision()


def test_db_upgrade_reads_no_config_file(
    deployment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECON_CONFIG", str(tmp_path / "missing.toml"))
    assert main(["db", "upgrade"]) == 0
    assert schema_of(deployment) == head_revision()


def test_db_upgrade_still_refuses_a_bad_database_url(
    deployment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RECON_DATABASE_URL", "mysql://x/y")
    assert main(["db", "upgrade"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("recon: error: RECON_DATABASE_URL: unsupported scheme 'mysql'")


def test_commands_that_use_the_channels_still_refuse_an_empty_secret_naming_it(
    deployment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    assert main(["runs", "list"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "RECON_MOMO_ACCESS_KEY is not set" in line


def test_the_database_url_alone_is_the_one_the_settings_hold(deployment: Path) -> None:
    env = {"RECON_DATABASE_URL": f"sqlite:///{deployment}", "RECON_CONFIG": ""}
    assert database_url(env) == load_settings(env).database_url
    assert database_url({}) == load_settings({}).database_url
