"""Bulk writes on SQLite: multi-row INSERTs of plain tuples, and loads into empty tables.

`insert_tuples` hands the driver rows already in SQLite's stored form (times as
`recon.db.types.sqlite_text`, days as ISO text), 500 rows to a statement: one multi-row INSERT
takes about a third less CPU than the same rows through executemany, and SQLAlchemy's per-value
processing is skipped.

Bulk loads into empty tables: secondary indexes dropped, then rebuilt at the end.

Filling a table and then building each index once (a sort) is several times cheaper than
keeping every index current row by row. `BulkLoad.begin`, inside the load's transaction, drops
the indexes of the named tables that are named in `sqlite_master` (those a migration created;
the automatic ones behind PRIMARY KEY and UNIQUE constraints cannot be dropped and stay) when
every one of those tables is empty; `finish` recreates them from their own stored `sql`, so the
schema after the load is the one the migrations made. SQLite's DDL is transactional: a load that
is rolled back rolls back the drops with it.

Only SQLite: on PostgreSQL dropping an index takes an exclusive lock that would block every
reader of the table until the load commits.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

# 500 rows × at most 20 values: far under SQLite's 32,766 bound values per statement
SQLITE_ROWS_PER_INSERT = 500


@functools.cache
def _multirow_insert(target: Table, columns: tuple[str, ...], rows: int) -> str:
    names = ", ".join(target.c[column].name for column in columns)  # an unknown column raises
    placeholders = "(" + ", ".join("?" * len(columns)) + ")"
    values = ", ".join([placeholders] * rows)
    return f"INSERT INTO {target.name} ({names}) VALUES {values}"  # noqa: S608 (names: the schema's)


async def insert_tuples(
    connection: AsyncConnection,
    target: Table,
    columns: tuple[str, ...],
    rows: Iterable[tuple[Any, ...]],
) -> None:
    """Insert `rows` (values for `columns`, in SQLite's stored form) on SQLite, 500 a statement;
    `rows` is read a statement's worth at a time."""
    pending = iter(rows)
    while part := list(itertools.islice(pending, SQLITE_ROWS_PER_INSERT)):
        values = tuple(itertools.chain.from_iterable(part))
        await connection.exec_driver_sql(_multirow_insert(target, columns, len(part)), values)


class BulkLoad:
    """The indexes dropped for one load, in their original order, with the DDL to recreate."""

    def __init__(self, session: AsyncSession, indexes: list[tuple[str, str]]) -> None:
        self._session = session
        self._indexes = indexes  # (name, CREATE INDEX …) as sqlite_master holds them
        self._finished = False

    @property
    def dropped(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self._indexes)

    @classmethod
    async def begin(cls, session: AsyncSession, tables: Sequence[str]) -> BulkLoad | None:
        """Drop the tables' secondary indexes if they are all empty (SQLite only), in the
        session's transaction; None when the load must take the normal path."""
        if session.get_bind().dialect.name != "sqlite":
            return None
        for name in tables:
            found = await session.execute(text(f'SELECT 1 FROM "{name}" LIMIT 1'))  # noqa: S608
            if found.first() is not None:
                return None
        result = await session.execute(
            text(
                "SELECT tbl_name, name, sql FROM sqlite_master"
                " WHERE type = 'index' AND sql IS NOT NULL ORDER BY rowid"
            )
        )
        indexes = [(str(name), str(sql)) for owner, name, sql in result if owner in tables]
        for name, _ in indexes:
            await session.execute(text(f'DROP INDEX "{name}"'))
        return cls(session, indexes)

    async def finish(self) -> None:
        """Recreate the dropped indexes (before the load commits)."""
        if self._finished:
            return
        self._finished = True
        for _, sql in self._indexes:
            await self._session.execute(text(sql))
