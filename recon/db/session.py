"""Engines and the one session factory. SQLite runs in WAL mode with foreign keys enforced."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Execution option of the engine behind `create_read_sessionmaker`
READ_ONLY = "recon_read_only"


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
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
    reads asks for `read_only` sessions, which never wait for SQLite's write lock."""
    engine = create_engine(database_url)
    try:
        yield (create_read_sessionmaker if read_only else create_sessionmaker)(engine)
    finally:
        await engine.dispose()


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
