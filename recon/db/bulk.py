"""Bulk loads into empty tables on SQLite: secondary indexes dropped, then rebuilt at the end.

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

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


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
