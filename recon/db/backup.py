"""`recon db backup FILE`: an online copy of a SQLite database, through sqlite3's backup API.

The copy is made in one step, that is in one read transaction on the source: in WAL mode it sees
the last commit made before it began, and neither waits for nor holds up a writer (a run, an
import, the API), so it is taken while recon serves and runs. A transaction still open when it
begins is not in the copy; one that commits meanwhile is not either.

The copy is written beside FILE under a temporary name, checked (`PRAGMA quick_check`), turned
into a single self-contained file (rollback journal, no `-wal` beside it) and renamed into
place: a FILE that exists is a whole backup. An existing FILE is never overwritten (the source
itself included). PostgreSQL has its own tool, `pg_dump -Fc` (docs/operations.md, "Backing up
and restoring"): this command refuses it with one line saying so.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path

import msgspec

from recon.db.session import parse_url, sqlite_file
from recon.errors import BadInput, ReconError, SettingsError

BUSY_TIMEOUT_S = 10.0  # a reader waits only in rare moments (WAL recovery); never for a writer
PG_DUMP_HINT = (
    "recon db backup copies a SQLite database; back up PostgreSQL with "
    '`pg_dump -Fc` and restore with `pg_restore` (docs/operations.md, "Backing up and restoring")'
)


class BackupResult(msgspec.Struct, frozen=True, kw_only=True):
    status: str
    database: str
    backup: str
    bytes: int
    schema: str | None  # the copy's Alembic revision; None for a database never migrated
    seconds: float


def backup_database(database_url: str, destination: Path) -> BackupResult:
    """Copy the SQLite database of `database_url` to `destination`, a file that must not exist."""
    source = _source_file(database_url)
    target = _destination(destination)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    started = time.monotonic()
    try:
        schema = _copy(source, partial)
        _fsync(partial)
        if target.exists():  # appeared meanwhile: still never overwritten
            raise BadInput(f"{target} exists: recon db backup never overwrites a file")
        os.replace(partial, target)
        _fsync(target.parent)
    finally:
        for leftover in (partial, *_journals(partial)):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    return BackupResult(
        status="ok",
        database=str(source),
        backup=str(target),
        bytes=target.stat().st_size,
        schema=schema,
        seconds=round(time.monotonic() - started, 3),
    )


def _source_file(database_url: str) -> Path:
    url = parse_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise SettingsError(PG_DUMP_HINT)
    path = sqlite_file(url)
    if path is None:
        raise SettingsError("recon db backup: an in-memory database has nothing to back up")
    if not path.exists():
        raise SettingsError(f"database {path} does not exist: nothing to back up")
    if not path.is_file():
        raise SettingsError(f"database {path} is not a file (RECON_DATABASE_URL)")
    return path


def _destination(destination: Path) -> Path:
    if not str(destination).strip():
        raise BadInput("recon db backup: name the backup FILE")
    if destination.exists() or destination.is_symlink():
        kind = "a directory" if destination.is_dir() else "a file that exists"
        raise BadInput(f"{destination} is {kind}: recon db backup writes a new file only")
    if not destination.parent.is_dir():
        raise BadInput(f"{destination}: folder {destination.parent} does not exist")
    return destination


def _copy(source: Path, partial: Path) -> str | None:
    # mode=rw: never create the file; query_only: never write it. Not mode=ro: a read-only
    # connection could not remove the -wal and -shm it finds or makes when it closes.
    uri = f"{source.resolve().as_uri()}?mode=rw"
    try:
        src = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as exc:
        raise ReconError(f"cannot open {source} to back it up: {exc}") from None
    try:
        src.execute("PRAGMA query_only=1")
        dst = sqlite3.connect(partial, isolation_level=None)
        try:
            src.backup(dst, pages=-1)  # -1: every page in one step, one snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            check = [row[0] for row in dst.execute("PRAGMA quick_check")]
            if check != ["ok"]:
                raise ReconError(f"the copy of {source} failed its check: {'; '.join(check[:3])}")
            return _revision(dst)
        finally:
            dst.close()
    except sqlite3.Error as exc:  # disk full, a file that is no database, …
        raise ReconError(f"backup of {source} failed: {exc}") from None
    finally:
        src.close()


def _revision(connection: sqlite3.Connection) -> str | None:
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # no such table: a database never migrated
        return None
    return None if row is None else str(row[0])


def _journals(path: Path) -> tuple[Path, ...]:
    return tuple(path.with_name(path.name + suffix) for suffix in ("-journal", "-wal", "-shm"))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
