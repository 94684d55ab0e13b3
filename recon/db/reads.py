"""Short reads of the hot API routes, run where they cost least.

Through the async engine on SQLite, each statement of a request goes to aiosqlite's worker
thread and back, wrapped by SQLAlchemy's async layer and its execution machinery: measured
under 50 connections (bench/status_api.py), about 2 ms of server time for a payment lookup
whose SQL takes 0.02 ms, and most requests waiting on the thread hand-offs.

So on a SQLite file these reads run synchronously on the event loop's own thread, on a plain
sqlite3 connection kept for them: the same Core statements, compiled once by SQLAlchemy for
SQLite, their values and results converted by the columns' own SQLAlchemy types, and executed
by the driver directly. A few indexed statements then take tens of microseconds, less than one
trip to the other thread. WAL gives the reader its snapshot without waiting for a writer (a big
run in another process does not block it); the connection is `query_only`, and its busy
timeout is short because the whole loop waits while it waits.

Only bounded, indexed reads belong here (a payment lookup, an API key): a read that may scan
would stall every other request. Elsewhere (PostgreSQL, an in-memory SQLite) the same read
function gets a `Reader` over an async session's connection (`run_sync`), one round trip per
statement as before.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import namedtuple
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Concatenate, ParamSpec, Protocol, TypeVar

from litestar.connection import ASGIConnection
from sqlalchemy import Connection
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import CompoundSelect, Select

from recon.db.session import create_read_sessionmaker, sqlite_file

P = ParamSpec("P")
T = TypeVar("T")
Statement = Select[*tuple[Any, ...]] | CompoundSelect[*tuple[Any, ...]]
# the loop waits while a read waits: in WAL a reader waits only in rare moments (a writer
# recovering the log), never for a writer's transaction
READ_BUSY_TIMEOUT_S = 1.0


class Reader(Protocol):
    """What a quick read function is given: rows of prebuilt Core selects, by attribute."""

    def all(self, statement: Statement, params: Mapping[str, Any] | None = None) -> list[Any]: ...


class ConnectionReader:
    """A `Reader` over a SQLAlchemy connection (the async session's, through `run_sync`)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def all(self, statement: Statement, params: Mapping[str, Any] | None = None) -> list[Any]:
        return list(self._connection.execute(statement, dict(params or {})).all())


_DIALECT = SQLiteDialect_pysqlite()


class _Compiled:
    """A select compiled once for SQLite: its SQL with each expanding parameter left to widen
    per call, the bind processors of its parameters and the result processors of its columns."""

    def __init__(self, statement: Statement) -> None:
        compiled = statement.compile(dialect=_DIALECT)
        self.sql = compiled.string
        self.order = list(compiled.positiontup or ())
        self.defaults = dict(compiled.params)
        binds = compiled.binds
        self.expanding = {name for name in self.order if binds[name].expanding}
        self.binders = {
            name: binds[name].type.dialect_impl(_DIALECT).bind_processor(_DIALECT)
            for name in set(self.order)
        }
        columns = list(statement.selected_columns)
        self.results = [
            column.type.dialect_impl(_DIALECT).result_processor(_DIALECT, None)
            for column in columns
        ]
        row_type: Any = namedtuple("Row", list(statement.selected_columns.keys()), rename=True)  # type: ignore[misc]
        self.make_row: Callable[[Any], Any] = row_type._make
        self._sql_by_widths: dict[tuple[int, ...], str] = {}

    def bind(self, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        values: list[Any] = []
        widths: list[int] = []
        for name in self.order:
            value = params[name] if name in params else self.defaults[name]
            binder = self.binders[name]
            if name in self.expanding:
                widths.append(len(value))
                values.extend(value if binder is None else [binder(v) for v in value])
            else:
                values.append(value if binder is None else binder(value))
        key = tuple(widths)
        sql = self._sql_by_widths.get(key)
        if sql is None:
            sql = self.sql
            for name, width in zip(
                (n for n in self.order if n in self.expanding), widths, strict=True
            ):
                sql = sql.replace(f"__[POSTCOMPILE_{name}]", ", ".join("?" * width), 1)
            self._sql_by_widths[key] = sql
        return sql, values

    def rows(self, raw: list[tuple[Any, ...]]) -> list[Any]:
        make, results = self.make_row, self.results
        if not any(results):
            return [make(r) for r in raw]
        return [
            make([v if p is None else p(v) for p, v in zip(results, r, strict=True)]) for r in raw
        ]


class SqliteReader:
    """A `Reader` on a plain sqlite3 connection, inside the caller's transaction."""

    _compiled: ClassVar[dict[int, _Compiled]] = {}

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def all(self, statement: Statement, params: Mapping[str, Any] | None = None) -> list[Any]:
        compiled = self._compiled.get(id(statement))
        if compiled is None:
            # module-level statements live as long as the process, so their ids stay theirs
            compiled = self._compiled[id(statement)] = _Compiled(statement)
        sql, values = compiled.bind(params or {})
        return compiled.rows(self._connection.execute(sql, values).fetchall())


class QuickReads:
    """Runs `read(reader, *args)`, a synchronous function of a `Reader`, in one read-only
    transaction: on a SQLite file in the loop's thread, elsewhere through `run_sync`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._path = sqlite_file(engine.url)
        self._sqlite: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # the app's loop is one thread; tests may bring others
        self._sessionmaker = create_read_sessionmaker(engine)

    @property
    def in_loop_thread(self) -> bool:
        return self._path is not None

    async def run(
        self, read: Callable[Concatenate[Reader, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        if self._path is not None:
            with self._lock:
                connection = self._sqlite or self._connect()
                connection.execute("BEGIN")  # one snapshot for the read's statements
                try:
                    return read(SqliteReader(connection), *args, **kwargs)
                finally:
                    connection.execute("ROLLBACK")

        def in_session(session: Session) -> T:
            return read(ConnectionReader(session.connection()), *args, **kwargs)

        async with self._sessionmaker() as session:
            return await session.run_sync(in_session)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self._path,  # type: ignore[arg-type]
            timeout=READ_BUSY_TIMEOUT_S,
            isolation_level=None,
            check_same_thread=False,
        )
        connection.execute("PRAGMA query_only=ON")
        self._sqlite = connection
        return connection

    def dispose(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None


def quick_reads(connection: ASGIConnection[Any, Any, Any, Any]) -> QuickReads:
    """The app's `QuickReads` (made with its engine: `app.state.quick_reads`)."""
    reads: QuickReads = connection.app.state.quick_reads
    return reads
