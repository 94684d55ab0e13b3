"""Many keys, or many rows, bound as one parameter whatever their number.

A run names tens of thousands of lines and dossiers at once. An `IN (...)` list binds (and
SQLAlchemy renders) one parameter per key, in chunks under each database's cap; an
`executemany` binds and converts every row in Python. Here the whole set is one value instead:
a JSON document that SQLite reads with `json_each`, or arrays PostgreSQL reads with `ANY` and
`unnest`. The statement is compiled once and the database does the per-key work in C.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Select,
    String,
    any_,
    bindparam,
    func,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine


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
