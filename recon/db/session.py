"""Engines and the one session factory. SQLite runs in WAL mode with foreign keys enforced.

Only `recon db upgrade` (and the server, whose readiness check reports an unmigrated schema)
makes a database: `open_database`, which jobs and commands use, refuses a SQLite file that does
not exist, creating nothing, and any database whose schema is not this recon's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from recon.errors import ReconError, SettingsError

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Execution option of the engine behind `create_read_sessionmaker`
READ_ONLY = "recon_read_only"
MIGRATION_VERSIONS = Path(__file__).parent / "migrations" / "versions"
UPGRADE_HINT = "run `recon db upgrade`"


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL; None for another database or an in-memory one."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def parse_url(database_url: str) -> URL:
    try:
        return make_url(database_url)
    except (ArgumentError, ValueError):  # e.g. a port that is no number
        # not the parser's words: they would repeat the URL, password and all
        raise SettingsError(
            "RECON_DATABASE_URL is not a database URL (its host, port or path cannot be read)"
        ) from None


def create_engine(database_url: str, *, create_folder: bool = True, **kwargs: Any) -> AsyncEngine:
    url = parse_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = sqlite_file(url)
        if path is not None and create_folder:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        # let SQLAlchemy, not pysqlite, decide when a transaction begins (BEGIN IMMEDIATE
        # below), so two writers queue on the busy timeout instead of failing to upgrade a lock
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # A writer takes the write lock up front; a reader takes none (WAL gives it a snapshot), so a
    # long write such as a big import never makes the API or the web pages wait.
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def create_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for work that only reads (GET requests, the guards' lookups)."""
    return async_sessionmaker(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


@asynccontextmanager
async def open_database(
    database_url: str, *, read_only: bool = False
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """For jobs and CLI commands: an engine of their own, disposed on exit. A command that only
    reads asks for `read_only` sessions, which never wait for SQLite's write lock.

    A SQLite file that does not exist is refused before anything is created (no folder, no
    file, no -wal or -shm), and so is a database whose schema is missing or not at head: one
    line that says to run `recon db upgrade`, instead of an SQL error halfway through."""
    url = parse_url(database_url)
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise SettingsError(f"database {path} does not exist: {UPGRADE_HINT} to create it")
    if path is not None and not path.is_file():
        raise SettingsError(f"database {path} is not a file (RECON_DATABASE_URL)")
    engine = create_engine(database_url, create_folder=False)
    try:
        await check_schema(engine, _database_name(url, path))
        yield (create_read_sessionmaker if read_only else create_sessionmaker)(engine)
    finally:
        await engine.dispose()


@asynccontextmanager
async def open_session(
    database_url: str, *, read_only: bool = False
) -> AsyncIterator[AsyncSession]:
    """One session on an engine of its own (`open_database`): what a command that just needs a
    session opens (`recon.clitools.with_session`)."""
    async with (
        open_database(database_url, read_only=read_only) as sessionmaker,
        sessionmaker() as session,
    ):
        yield session


def schema_revisions() -> list[str]:
    """Every migration's revision, oldest first, read from the migration files' names
    (`0004_….py`) rather than through Alembic, whose import would cost every command a tenth
    of a second; tests/system/test_cli_database.py holds the two readings equal."""
    return sorted(p.name.split("_", 1)[0] for p in MIGRATION_VERSIONS.glob("[0-9]*_*.py"))


async def check_schema(engine: AsyncEngine, name: str) -> None:
    """Refuse a database whose schema is not this recon's, naming the remedy."""
    try:
        async with engine.execution_options(**{READ_ONLY: True}).connect() as connection:
            revision = await connection.run_sync(_revision)
    except OSError as exc:  # the server is down or unreachable: no SQL error to report
        raise ReconError(f"database {name} is unreachable: {exc.strerror or exc}") from None
    known = schema_revisions()
    if revision is None:
        raise SettingsError(f"database {name} has no schema: {UPGRADE_HINT}")
    if revision not in known:
        raise SettingsError(
            f"database {name} is at schema {revision}, which this recon does not know "
            f"(newest {known[-1]}): upgrade recon"
        )
    if revision != known[-1]:
        raise SettingsError(
            f"database {name} is at schema {revision}, this recon needs {known[-1]}: {UPGRADE_HINT}"
        )


def _revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if found is None else str(found)


def _database_name(url: URL, path: Path | None) -> str:
    if path is not None:
        return str(path)
    if url.get_backend_name() == "sqlite":
        return "in memory"
    return url.render_as_string(hide_password=True)


async def refresh_statistics(session: AsyncSession) -> None:
    """Keep SQLite's planner statistics current after bulk writes (PostgreSQL's autovacuum
    does this by itself). Without them SQLite picks the wrong index for the ledger's aggregate.
    `analysis_limit` samples each index, so this takes milliseconds, not a full scan."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return
    await session.execute(text("PRAGMA analysis_limit=1000"))
    await session.execute(text("ANALYZE"))
    await session.commit()
