"""Backups taken while recon writes restore to a database that `recon db upgrade` accepts and
that gives the ledger of the source at the moment of the backup (issue 15).

SQLite: `recon db backup FILE` (recon/db/backup.py), an online copy through sqlite3's backup
API, taken while another connection holds an uncommitted write and while a real `recon
reconcile` runs in another process. PostgreSQL: the documented `pg_dump -Fc` and `pg_restore`
into a fresh database; `recon db backup` refuses it with one line naming `pg_dump -Fc`.
Restoring is what docs/operations.md says: the file in place, `recon db upgrade`, serve.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text

from fixtures.ward.bulk import BULK_CHANNEL, write_month
from recon.db.backup import backup_database
from recon.db.migrate import head_revision
from tests.conftest import _truncate_postgres

DAY = date(2025, 11, 3)
CONFIG = f'[channels.{BULK_CHANNEL}]\nadapter = "file"\n'
ROOT = Path(__file__).resolve().parents[2]
PG_DUMP, PG_RESTORE = shutil.which("pg_dump"), shutil.which("pg_restore")


def recon(
    *args: str, url: str, config: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`recon ARGS…` in a process of its own, against `url`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_")}
    env |= {"RECON_DATABASE_URL": url, "RECON_CONFIG": str(config)}
    return subprocess.run(
        [sys.executable, "-m", "recon.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, (done.args, done.stdout[-2000:], done.stderr)
    assert done.stderr == "", done.stderr
    return done.stdout


def ledger(url: str, config: Path) -> dict[str, Any]:
    day = DAY.isoformat()
    answer: dict[str, Any] = json.loads(
        ok(recon("ledger", "--from", day, "--to", day, url=url, config=config))
    )
    return answer


def load_ward(tmp_path: Path, url: str, *, lines: int) -> Path:
    """A day of channel `bulk`: dossiers and their statement lines imported, not reconciled."""
    config = tmp_path / "recon.toml"
    config.write_text(CONFIG, encoding="utf-8")
    files = tmp_path / "files"
    files.mkdir()
    write_month(files, dossiers=lines, lines=lines, days=1, first_day=DAY)
    if url.startswith("sqlite"):
        ok(recon("db", "upgrade", url=url, config=config))
    ok(recon("dossiers", "import", str(files / "dossiers.csv"), url=url, config=config))
    statements = str(files / "statements.csv")
    ok(recon("statements", "import", "--channel", BULK_CHANNEL, statements, url=url, config=config))
    return config


def reconcile_args() -> tuple[str, ...]:
    return (
        "reconcile",
        "--date",
        DAY.isoformat(),
        "--channel",
        BULK_CHANNEL,
        "--no-pull",
        "--json",
    )


def restored(backup: Path, folder: Path) -> str:
    """The backup restored as docs/operations.md says: the file in place, then `db upgrade`."""
    folder.mkdir()
    shutil.copyfile(backup, folder / "recon.db")
    return f"sqlite:///{folder / 'recon.db'}"


def integrity(path: Path) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return [row[0] for row in connection.execute("PRAGMA integrity_check")]
    finally:
        connection.close()


def run_statuses(path: Path) -> list[str]:
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return [row[0] for row in connection.execute("SELECT status FROM runs ORDER BY id")]
    finally:
        connection.close()


def test_a_backup_taken_while_a_write_is_open_holds_the_committed_state(tmp_path: Path) -> None:
    source = tmp_path / "live" / "recon.db"
    source.parent.mkdir()
    url = f"sqlite:///{source}"
    config = load_ward(tmp_path, url, lines=300)
    ok(recon(*reconcile_args(), url=url, config=config))
    committed = ledger(url, config)

    writer = sqlite3.connect(source, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # the write lock, held through the backup
    writer.execute("DELETE FROM matches")
    writer.execute("UPDATE statement_lines SET amount = amount + 1")
    try:
        started = time.monotonic()
        answer = json.loads(
            ok(recon("db", "backup", str(tmp_path / "copy.db"), "--json", url=url, config=config))
        )
        took = time.monotonic() - started
    finally:
        writer.execute("ROLLBACK")
        writer.close()

    assert took < 8, took  # it never waited for the writer (the busy timeout is 10 s)
    assert answer["status"] == "ok"
    assert answer["schema"] == head_revision()
    assert answer["backup"] == str(tmp_path / "copy.db")
    assert integrity(tmp_path / "copy.db") == ["ok"]
    assert not list(tmp_path.glob("copy.db-*"))  # one self-contained file
    assert not list(tmp_path.glob(".copy.db*"))  # no partial copy left behind
    copy = restored(tmp_path / "copy.db", tmp_path / "restored")
    ok(recon("db", "upgrade", url=copy, config=config))
    assert ledger(copy, config) == committed
    assert ledger(url, config) == committed


def test_a_backup_taken_while_a_run_writes_restores_to_the_ledger_of_that_moment(
    tmp_path: Path,
) -> None:
    source = tmp_path / "live" / "recon.db"
    source.parent.mkdir()
    url = f"sqlite:///{source}"
    config = load_ward(tmp_path, url, lines=30_000)
    before = ledger(url, config)
    backups = tmp_path / "backups"
    backups.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECON_")}
    env |= {"RECON_DATABASE_URL": url, "RECON_CONFIG": str(config)}
    run = subprocess.Popen(
        [sys.executable, "-m", "recon.cli", *reconcile_args()],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    taken: list[tuple[Path, bool]] = []  # each backup, and whether the run was still going
    try:
        deadline = time.monotonic() + 60
        while run.poll() is None and not _has_run(source):  # the run has begun writing
            assert time.monotonic() < deadline, "the run never began"
            time.sleep(0.005)
        while run.poll() is None:
            assert time.monotonic() < deadline, "the run took over a minute"
            copy = backups / f"{len(taken):03d}.db"
            backup_database(url, copy)
            taken.append((copy, run.poll() is None))
            time.sleep(0.1)  # a dozen copies or so over the run, not hundreds
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 0, (out, err)
    assert json.loads(out)["status"] == "succeeded"
    final = backups / "after.db"
    backup_database(url, final)
    after = ledger(url, config)
    assert before != after  # the run changed the ledger: a torn copy would show

    during = [copy for copy, running in taken if running]
    assert during, "no backup was made while the run was going"
    mid_run = [c for c in during if run_statuses(c) == ["running"]]
    assert mid_run, "no backup saw the run in progress"
    for copy, _ in taken:
        assert integrity(copy) == ["ok"], copy
        assert run_statuses(copy) in (["running"], ["succeeded"]), copy
    # the ledger of each moment: the last copy of a run in progress, the first after its
    # judgement committed (if one was taken before the run ended), and one taken after it
    succeeded = [c for c, _ in taken if run_statuses(c) == ["succeeded"]]
    for index, copy in enumerate([mid_run[-1], *succeeded[:1], final]):
        target = restored(copy, tmp_path / f"restored-{index}")
        ok(recon("db", "upgrade", url=target, config=config))
        expected = before if run_statuses(copy) == ["running"] else after
        assert ledger(target, config) == expected, copy


def _has_run(path: Path) -> bool:
    try:
        return bool(run_statuses(path))
    except sqlite3.OperationalError:  # busy in a rare moment: ask again
        return False


def test_backup_refuses_an_existing_file_and_a_missing_folder(tmp_path: Path) -> None:
    config = tmp_path / "recon.toml"
    config.write_text(CONFIG, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'recon.db'}"
    ok(recon("db", "upgrade", url=url, config=config))
    for target in (tmp_path / "recon.db", tmp_path, tmp_path / "missing" / "copy.db"):
        done = recon("db", "backup", str(target), url=url, config=config)
        assert done.returncode == 2, done
        assert done.stderr.startswith("recon: error: ")
        assert done.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recon.db", "recon.toml"]


@pytest.mark.postgres
def test_postgres_backs_up_with_pg_dump_and_restores_with_pg_restore(
    postgres_url: str, tmp_path: Path
) -> None:
    if not (PG_DUMP and PG_RESTORE):
        pytest.skip("pg_dump and pg_restore are not installed")
    _truncate_postgres(postgres_url)
    config = load_ward(tmp_path, postgres_url, lines=2_000)
    ok(recon(*reconcile_args(), url=postgres_url, config=config))
    source = ledger(postgres_url, config)

    refused = recon("db", "backup", str(tmp_path / "copy.db"), url=postgres_url, config=config)
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
    assert "pg_dump -Fc" in refused.stderr
    assert not (tmp_path / "copy.db").exists()

    libpq = make_url(postgres_url).set(drivername="postgresql")
    dump = tmp_path / "recon.dump"
    conninfo = libpq.render_as_string(hide_password=False)
    subprocess.run([PG_DUMP, "-Fc", "-f", str(dump), conninfo], check=True, timeout=120)
    fresh = f"{libpq.database}_restored"
    admin = create_engine(libpq.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{fresh}"'))
        target = libpq.set(database=fresh).render_as_string(hide_password=False)
        subprocess.run(
            [PG_RESTORE, "--no-owner", "--exit-on-error", "-d", target, str(dump)],
            check=True,
            timeout=120,
        )
        ok(recon("db", "upgrade", url=target, config=config))
        assert ledger(target, config) == source
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)'))
        admin.dispose()
