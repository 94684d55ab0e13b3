"""Binding sets of keys or rows to a query, and reading many rows back as one JSON document.

A run names tens of thousands of lines and dossiers at once. An `IN (...)` list binds (and
SQLAlchemy renders) one parameter per key, in chunks under each database's cap; an
`executemany` binds and converts every row in Python. Here the whole set is one value instead:
a JSON document that SQLite reads with `json_each`, or arrays PostgreSQL reads with `ANY` and
`unnest`. The statement is compiled once and the database does the per-key work in C.
Where a list is still bound key by key (`IN (...)` through the ORM), `chunks` splits it under
both databases' caps on bound parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import msgspec
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Select,
    String,
    Text,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

T = TypeVar("T")
CHUNK = 500


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """`items` in slices of at most `size`: one `IN (...)` list each."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def dialect_of(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def one_of(column: ColumnElement[Any], values: Iterable[Any], dialect: str) -> ColumnElement[bool]:
    """`column IN values`, the values bound as one parameter."""
    items = sorted(set(values))
    if dialect == "postgresql":
        return column == any_(bindparam(None, items, type_=ARRAY(column.type)))
    document = bindparam(None, msgspec.json.encode(items).decode(), type_=String())
    each = func.json_each(document).table_valued("value")
    return column.in_(select(each.c.value))


def rows_of(
    columns: Mapping[str, TypeEngine[Any]], rows: Sequence[Sequence[Any]], dialect: str
) -> Select[Any]:
    """A SELECT of `rows` (tuples in the order of `columns`) under the columns' names."""
    names = list(columns)
    if dialect == "postgresql":
        arrays = [
            bindparam(None, [row[i] for row in rows], type_=ARRAY(columns[name]))
            for i, name in enumerate(names)
        ]
        unnested = func.unnest(*arrays).table_valued(*names).render_derived()
        return select(*(unnested.c[name] for name in names))
    document = bindparam(None, msgspec.json.encode(rows).decode(), type_=String())
    each = func.json_each(document).table_valued("value")
    return select(
        *(
            type_coerce(func.json_extract(each.c.value, f"$[{i}]"), columns[name]).label(name)
            for i, name in enumerate(names)
        )
    )


# --- reading: rows as one JSON document ------------------------------------------------------
# A day's lines and dossiers come back as one JSON array built by the database and decoded by
# msgspec straight into the engine's Structs, with no Python object per column and per row on
# the way (driver tuples, SQLAlchemy rows, then Structs): a quarter less time for a day's lines.


def json_object(fields: Mapping[str, ColumnElement[Any]], dialect: str) -> ColumnElement[Any]:
    """A JSON object per row with these keys (names from the code, written into the SQL)."""
    arguments: list[ColumnElement[Any]] = []
    for name, value in fields.items():
        if not name.replace("_", "").isalnum():
            raise ValueError(f"not a plain key: {name!r}")
        arguments += [literal_column(f"'{name}'"), value]
    if dialect == "postgresql":
        return func.json_build_object(*arguments)
    return func.json_object(*arguments)


def json_array(values: Sequence[ColumnElement[Any]], dialect: str) -> ColumnElement[Any]:
    """A JSON array per row."""
    if dialect == "postgresql":
        return func.json_build_array(*values)
    return func.json_array(*values)


def json_list(
    value: ColumnElement[Any], dialect: str, order_by: ColumnElement[Any] | None = None
) -> ColumnElement[Any]:
    """The aggregate of `value` over the rows, a JSON array ([] for no row). SQLite keeps the
    order the rows are read in; PostgreSQL is told `order_by`."""
    if dialect == "postgresql":
        aggregated = func.json_agg(
            value if order_by is None else aggregate_order_by(value, order_by)
        )
        return func.coalesce(aggregated, literal_column("'[]'::json"))
    return func.json_group_array(value)


def nested(list_query: Select[Any], dialect: str) -> ColumnElement[Any]:
    """A `json_list` subquery inside a row's object: SQLite must be told it is JSON."""
    if dialect == "postgresql":
        return list_query.scalar_subquery()
    return func.json(list_query.scalar_subquery())


async def fetch_json(
    session: AsyncSession, query: Select[Any], decoder: msgspec.json.Decoder[T]
) -> T:
    """Run a query whose one row and column is a JSON document; decode it."""
    document = (await session.execute(query)).scalar_one()
    return decoder.decode(document)


def as_text(document: ColumnElement[Any], dialect: str) -> ColumnElement[str]:
    """The document as text, so no driver decodes it on the way (asyncpg would not; a JSON
    column type would)."""
    return cast(document, Text) if dialect == "postgresql" else type_coerce(document, Text)
