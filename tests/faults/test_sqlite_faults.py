"""SQLite's own faults (issue 15, part 4): a writer that will not let go, and a full disk.

- Another connection holds `BEGIN IMMEDIATE` past recon's busy timeout (lowered here from
  10 s) while a run or a pull wants to write: one line on stderr, exit 1, nothing written,
  `PRAGMA integrity_check` ok; once the writer lets go, the retry succeeds.
- The disk fills (`PRAGMA max_page_count` capped on every connection recon opens, which needs
  neither root nor a tiny file system): one line, no traceback, the database intact with what
  it held; with room again, the retry succeeds.

Each ends with conservation checked against an undisturbed run. The commands run in this
process (`recon.cli.main`), so that the test can lower the timeout and cap the pages.
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from fixtures.simulators.server import SimulatorSet
from recon.cli import main
from recon.db import session as db_session
from recon.db.models import Run
from tests.faults.conftest import DAYS
from tests.faults.conservation import (
    Baseline,
    Deployment,
    check_conservation,
    deploy,
    row_counts,
    sqlite_integrity,
    stored_totals,
    sync_engine,
)

RANGE = ("reconcile", "--from", DAYS[0].isoformat(), "--to", DAYS[-1].isoformat(), "--json")
Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def sqlite_deployment(healthy: SimulatorSet, sqlite_template: Path, tmp_path: Path) -> Deployment:
    path = tmp_path / "recon.db"
    shutil.copyfile(sqlite_template, path)
    return deploy(healthy, f"sqlite+aiosqlite:///{path}", tmp_path / "deployment")


@pytest.fixture
def cli(
    sqlite_deployment: Deployment,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Cli:
    """`recon ARGS…` in this process, in the deployment's environment."""
    use_environment(monkeypatch, sqlite_deployment)

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def use_environment(monkeypatch: pytest.MonkeyPatch, deployment: Deployment) -> None:
    for key, value in deployment.env.items():
        if key.startswith("RECON_"):
            monkeypatch.setenv(key, value)


def sqlite_path(deployment: Deployment) -> Path:
    return Path(deployment.url.removeprefix("sqlite+aiosqlite:///"))


def statuses(engine: Any) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(select(Run.status)).scalars())


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# --- a writer that will not let go -----------------------------------------------------------


@pytest.fixture
def other_writer(sqlite_deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A connection holding SQLite's write lock; recon's busy timeout lowered to 0.3 s."""
    monkeypatch.setattr(db_session, "SQLITE_BUSY_TIMEOUT_MS", 300)
    writer = sqlite3.connect(sqlite_path(sqlite_deployment), isolation_level=None, timeout=5)
    writer.execute("BEGIN IMMEDIATE")
    try:
        yield writer
    finally:
        if writer.in_transaction:
            writer.rollback()
        writer.close()


@pytest.mark.parametrize(
    "command",
    [RANGE, ("statements", "pull", "--channel", "momo", "--date", DAYS[0].isoformat())],
    ids=["reconcile", "pull"],
)
def test_a_write_locked_out_by_another_writer_fails_in_one_line_and_the_retry_succeeds(
    healthy: SimulatorSet,
    sqlite_deployment: Deployment,
    cli: Cli,
    other_writer: Any,
    undisturbed: Baseline,
    command: tuple[str, ...],
) -> None:
    engine = sync_engine(sqlite_deployment.url)
    before = row_counts(engine)
    code, _, err = cli(*command)
    assert code == 1, err
    assert "database is locked" in one_line(err)
    other_writer.rollback()  # the other writer lets go
    assert row_counts(engine) == before  # nothing written, not even a run
    assert sqlite_integrity(sqlite_deployment.url) == "ok"

    code, out, err = cli(*RANGE)
    assert code == 0, err
    assert [r["status"] for r in json.loads(out)] == ["succeeded"] * len(DAYS)
    engine.dispose()
    check_conservation(
        sqlite_deployment.url, healthy, DAYS, sqlite_deployment.settings, undisturbed
    )


# --- a full disk -----------------------------------------------------------------------------


def cap_pages(monkeypatch: pytest.MonkeyPatch, pages: int) -> None:
    """Every connection recon opens from now on may grow the file to `pages` pages only: what
    a full disk looks like to SQLite (SQLITE_FULL)."""
    plain = db_session._sqlite_pragmas

    def capped(dbapi_connection: Any, record: Any) -> None:
        plain(dbapi_connection, record)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA max_page_count={pages}")
        cursor.close()

    monkeypatch.setattr(db_session, "_sqlite_pragmas", capped)


def test_a_full_disk_fails_in_one_line_and_leaves_the_database_intact(
    healthy: SimulatorSet,
    sqlite_deployment: Deployment,
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    undisturbed: Baseline,
) -> None:
    path = sqlite_path(sqlite_deployment)
    engine = sync_engine(sqlite_deployment.url)
    before = row_counts(engine)
    with sqlite3.connect(path) as probe:
        pages = int(probe.execute("PRAGMA page_count").fetchone()[0])
    cap_pages(monkeypatch, pages + 2)  # room for a run's row, not for a day's statements

    code, out, err = cli(*RANGE)
    assert code == 1, err
    assert "full" in one_line(err), err
    assert sqlite_integrity(sqlite_deployment.url) == "ok"
    after = row_counts(engine)
    assert after["dossiers"] == before["dossiers"]  # what it held is still there
    for day in DAYS:  # a channel-day stored whole before the disk filled, or not at all
        for channel in ("momo", "portal", "bank"):
            stored = stored_totals(engine, channel, day)[0]
            whole = len(getattr(healthy, channel).lines(day))
            assert stored in (0, whole) or channel == "bank", (channel, day, stored)
    # whatever ran ended, as far as it got: the run the disk stopped is `failed`, its error
    # one line that says why, and its JSON printed
    assert "running" not in statuses(engine)
    printed = json.loads(out)
    assert "failed" in {r["status"] for r in printed}
    assert all("\n" not in (r.get("error") or "") for r in printed)
    assert any("database or disk is full" in (r.get("error") or "") for r in printed), printed

    monkeypatch.undo()  # room again (and the environment back: set it once more)
    use_environment(monkeypatch, sqlite_deployment)
    code, out, err = cli(*RANGE)
    assert code == 0, err
    assert [r["status"] for r in json.loads(out)] == ["succeeded"] * len(DAYS)
    engine.dispose()
    check_conservation(
        sqlite_deployment.url, healthy, DAYS, sqlite_deployment.settings, undisturbed
    )
