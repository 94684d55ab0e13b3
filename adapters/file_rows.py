"""A statement file's row on its way to a line: what every file layout is built from.

* `Row`: one data row's cells, read carefully: each fault is recorded against the row and the
  column as the file writes it, and reading goes on, so a row names all its faults at once
* `Fields`: the canonical values a row yields
* `Layout`: how one kind of file is read (the columns it needs, how a row becomes `Fields`)

The layouts themselves are in `adapters.file_mappings` and `adapters.file_vnpay`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple, TypeVar

from recon.domain import LineKind, LineStatus
from recon.rows import RowError

# the widths of the statement_lines columns: a longer value is a row error, not a DB error
ID_LIMIT = 128
PAYER_LIMIT = 64
PLACEHOLDER_TIME = datetime(2000, 1, 1, tzinfo=UTC)  # stands in for a bad time in a bad row
_S = TypeVar("_S", bound=str)
_T = TypeVar("_T")


class Fields(NamedTuple):
    """A row's canonical values; meaningful only when the row recorded no error."""

    channel_txn_id: str
    order_ref: str | None
    amount: int
    fee: int
    kind: LineKind
    status: LineStatus
    paid_at: datetime
    description: str = ""
    payer: str | None = None


class Row:
    """One data row: its cells by lowercased header, and the errors found in it so far."""

    def __init__(self, number: int, cells: dict[str, str], names: Mapping[str, str]) -> None:
        self.number = number
        self.cells = cells
        self.names = names  # lowercased header → header as written in the file
        self.errors: list[RowError] = []

    def bad(self, column: str, reason: str) -> None:
        self.errors.append(RowError(self.number, self.names.get(column, column), reason))

    def text(self, column: str, *, required: bool = False, limit: int | None = None) -> str:
        value = self.cells.get(column, "").strip()
        if required and not value:
            self.bad(column, "required")
        elif limit is not None and len(value) > limit:
            self.bad(column, f"longer than {limit} characters")
        return value

    def parsed(self, column: str, parse: Callable[[str], _T], fallback: _T) -> _T:
        try:
            return parse(self.cells.get(column, ""))
        except ValueError as exc:
            self.bad(column, str(exc))
            return fallback

    def choice(self, column: str, options: tuple[_S, ...]) -> _S:
        value = self.text(column, required=True)
        for option in options:
            if option == value.lower():
                return option
        if value:
            self.bad(column, f"{value!r} is not one of {', '.join(options)}")
        return options[0]


@dataclass(frozen=True)
class Layout:
    """How one kind of file is read: the file columns it needs and how a row becomes values.

    Column names are kept as a person writes them (for messages) and matched case-insensitively.
    """

    required: tuple[str, ...]
    optional: tuple[str, ...]
    id_column: str  # the file column holding channel_txn_id: a value twice rejects the file
    convert: Callable[[Row], Fields]
    strict: bool = False  # reject file columns the layout does not read
    payer_column: str | None = None  # masked in `raw` as well as in `payer`
    # given the file's column positions, a reader of a row's cells that takes only rows whose
    # every value is plainly good and returns None for any other (which `convert` then reads,
    # naming each fault): most rows skip the per-cell bookkeeping
    fast: Callable[[Mapping[str, int]], Callable[[Sequence[str]], Fields | None]] | None = None
