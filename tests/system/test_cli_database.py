"""Commands and a database that is missing, empty or behind: one line, exit 2, nothing created.

Only `recon db upgrade` makes a database. Every other command refuses a SQLite file that does
not exist without creating anything (no folder, no file, no -wal or -shm), and any database
whose schema is missing or not at head with one line naming `recon db upgrade` — not an SQL
error such as "no such table" (issue #10).
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from recon.cli import main
from recon.db.migrate import alembic_config, head_revision, upgrade
from recon.db.session import schema_revisions

DAY = "2025-11-24"
CONFIG = '[channels.vnpay]\nadapter = "file"\n'
DOSSIERS = (
    "dossier_code,procedure_code,procedure_name,applicant,fee_amount,state,submitted_at,"
    "payment_refs\nH1,P,N,A,1000,received,2025-11-24T08:00:00+07:00,\n"
)
READ_ONLY = [
    ("cases", "list"),
    ("ledger", "--from", DAY, "--to", DAY),
    ("days", "list"),
    ("days", "list", "--events"),
    ("apikeys", "list"),
]
WRITING = [
    ("apikeys", "create", "--name", "k", "--scope", "cases:read"),
    ("users", "create", "--username", "ketoan", "--role", "accountant"),
    ("reconcile", "--date", DAY, "--no-pull"),
    ("dossiers", "import", "<dossiers>"),
    ("days", "close", "--date", DAY, "--user", "ketoan", "--note", "ok"),
]

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """`recon ARGS…` in-process, in an empty folder, against `sqlite:///./var/db/recon.db`."""
    work = tmp_path / "work"
    work.mkdir()
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "recon.toml").write_text(CONFIG, encoding="utf-8")
    (inputs / "dossiers.csv").write_text(DOSSIERS, encoding="utf-8")
    monkeypatch.chdir(work)
    monkeypatch.setenv("RECON_DATABASE_URL", "sqlite:///./var/db/recon.db")
    monkeypatch.setenv("RECON_CONFIG", str(inputs / "recon.toml"))

    def run(*args: str) -> tuple[int, str, str]:
        argv = [str(inputs / "dossiers.csv") if a == "<dossiers>" else a for a in args]
        monkeypatch.setattr(sys, "stdin", io.StringIO("a-long-password\n"))
        capsys.readouterr()
        code = main(argv)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def the_one_line(err: str) -> str:
    assert err.count("\n") == 1, err
    assert err.startswith("recon: error: "), err
    return err


@pytest.mark.parametrize("args", READ_ONLY + WRITING, ids=" ".join)
def test_a_missing_sqlite_database_is_refused_and_nothing_is_created(
    cli: Cli, tmp_path: Path, args: tuple[str, ...]
) -> None:
    code, out, err = cli(*args)
    assert code == 2
    assert out == ""
    line = the_one_line(err)
    assert "database var/db/recon.db does not exist" in line
    assert "recon db upgrade" in line
    assert list((tmp_path / "work").iterdir()) == []  # no var/, no file, no -wal, no -shm


@pytest.mark.parametrize("args", READ_ONLY + WRITING, ids=" ".join)
def test_an_unmigrated_database_says_to_run_db_upgrade(
    cli: Cli, tmp_path: Path, args: tuple[str, ...]
) -> None:
    folder = tmp_path / "work" / "var" / "db"
    folder.mkdir(parents=True)
    (folder / "recon.db").touch()
    code, out, err = cli(*args)
    assert code == 2
    assert out == ""
    line = the_one_line(err)
    assert "has no schema: run `recon db upgrade`" in line
    assert "no such table" not in line


def test_a_database_behind_head_names_the_schema_it_needs(cli: Cli, tmp_path: Path) -> None:
    older, head = schema_revisions()[-2:]
    path = tmp_path / "work" / "var" / "db" / "recon.db"
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{path}", older))
    code, _, err = cli("cases", "list")
    assert code == 2
    assert f"is at schema {older}, this recon needs {head}: run `recon db upgrade`" in err


def test_db_upgrade_creates_the_database_and_its_folder_then_commands_work(cli: Cli) -> None:
    code, _, err = cli("db", "upgrade")
    assert (code, err) == (0, "")
    assert Path("var/db/recon.db").is_file()
    for args in READ_ONLY:
        code, _, err = cli(*args)
        assert (code, err) == (0, ""), args


def test_an_unreachable_postgresql_is_one_line_without_its_password(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECON_DATABASE_URL", "postgresql://someone:s3cret@127.0.0.1:1/recon")
    code, _, err = cli("cases", "list")
    assert code == 1
    assert "is unreachable" in the_one_line(err)
    assert "s3cret" not in err


def test_an_unreadable_database_url_is_one_line_without_its_password(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECON_DATABASE_URL", "postgresql://someone:s3cret@[::1/recon")
    code, _, err = cli("cases", "list")
    assert code == 2
    assert "RECON_DATABASE_URL is not a database URL" in the_one_line(err)
    assert "s3cret" not in err


def test_the_schema_revisions_read_from_file_names_are_alembics() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert schema_revisions() == sorted(r.revision for r in script.walk_revisions())
    assert schema_revisions()[-1] == head_revision()
