"""Rows from files and batches, and what an import reports of them: shared by dossier and
statement imports (DESIGN 2.4, 6).

A CSV file is read a block at a time (`CsvReader`), so an import holds one batch of rows, not
the file; every bad row is reported by `row` (the line number a spreadsheet shows: header = row
1, blank lines skipped but counted), `column` (the header name) and `reason`. A file-level fault
has `row` None. Whatever is read before a fault is found is the importer's to roll back.

`RowError` is the one shape of a bad row: an import's summary lists them as they are
(`{"row", "column", "reason"}`), an HTTP error names them as `FieldError`s
(`{"field", "reason", "row"}`, `field_errors`), the wire shape every API error shares.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, ClassVar

import msgspec

from recon.domain import MAX_AMOUNT, as_utc
from recon.errors import BadInput, FieldError
from recon.schemas import Out


class RowError(msgspec.Struct, frozen=True):
    """One bad row (`row` None for the whole file) or one bad column of it."""

    # its name (component key and title) in the API's OpenAPI document, unchanged since the
    # import summary had a type of its own for it
    __qualname__ = "RejectedRow"
    __schema_name__: ClassVar[str] = "RejectedRow"

    row: int | None
    column: str | None
    reason: str


class ImportSummary(Out):
    """DESIGN 6: what an import did. A rejected import has inserted 0 and updated 0."""

    received: int
    inserted: int = 0
    updated: int = 0
    duplicates: int = 0
    rejected: list[RowError] = msgspec.field(default_factory=list)


def summary_of_errors(received: int, errors: Iterable[RowError]) -> ImportSummary:
    """A rejected import's summary: its bad rows in file order, file-level faults first."""
    rejected = sorted(errors, key=lambda r: (r.row is not None, r.row or 0, r.column or ""))
    return ImportSummary(received=received, rejected=rejected)


def field_errors(errors: Iterable[RowError], whole: str) -> list[FieldError]:
    """Bad rows as an HTTP error names them; `whole` names a fault of no one column."""
    return [FieldError(e.column or whole, e.reason, e.row) for e in errors]


class FileRejected(Exception):
    """The file cannot be read at all (encoding, header): nothing of it lands."""

    def __init__(self, errors: list[RowError], rows_read: int | None = None) -> None:
        super().__init__("; ".join(e.reason for e in errors))
        self.errors = errors
        # data rows read before the file was refused, where known (the summary's `received`)
        self.rows_read = rows_read


BLOCK = 1 << 20  # bytes decoded at a time; a block always ends at a line break
_BOM = b"\xef\xbb\xbf"


class CsvReader:
    """A CSV file's header, then its data rows, decoded a block at a time (UTF-8, BOM or not).

    The delimiter is `;` when the first line holds more `;` than `,`. A byte that is not UTF-8
    or an unreadable record raises `FileRejected` when the reading gets there.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._offset = 0  # bytes decoded so far, after the BOM
        first = self._next_block()
        if first is None:
            raise FileRejected([RowError(None, None, "the file is empty: no header row")])
        if first.startswith(_BOM):
            first = first[len(_BOM) :]
        text = self._decode(first)
        first_line = text.split("\n", 1)[0]
        delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
        self._reader = csv.reader(self._lines(text), delimiter=delimiter, strict=True)
        try:
            header = next(self._reader, None)
        except csv.Error as exc:
            raise FileRejected([RowError(1, None, f"unreadable header: {exc}")]) from None
        if header is None or not any(cell.strip() for cell in header):
            raise FileRejected([RowError(None, None, "the file is empty: no header row")])
        self.header = [cell.strip() for cell in header]  # as written
        self.columns = [cell.lower() for cell in self.header]

    def check_header(self, *, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
        """`FileRejected` naming every unknown, doubled or missing column (in lower case)."""
        _check_header(self.columns, required=required, optional=optional)

    def rows(self) -> Iterator[tuple[int, list[str] | str]]:
        """(row number, cells) for each non-blank data row; a reason instead of the cells for a
        row whose number of fields differs from the header's."""
        width = len(self.columns)
        row = 1
        reader = self._reader
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise FileRejected([RowError(row + 1, None, f"unreadable CSV: {exc}")]) from None
            row += 1
            if len(cells) != width:
                if any(cell.strip() for cell in cells):
                    yield row, f"row has {len(cells)} fields, the header has {width}"
                continue
            if not cells[0].strip() and not any(cell.strip() for cell in cells):
                continue  # a blank row (the first cell alone decides for most rows)
            yield row, cells

    def _lines(self, first: str) -> Iterator[str]:
        yield from io.StringIO(first, newline="")
        while (block := self._next_block()) is not None:
            yield from io.StringIO(self._decode(block), newline="")

    def _next_block(self) -> bytes | None:
        """The next bytes up to and including a line break (or the end of the file)."""
        block = self._stream.read(BLOCK)
        if not block:
            return None
        while not block.endswith(b"\n"):
            more = self._stream.readline()
            if not more:
                break
            block += more
        return block

    def _decode(self, block: bytes) -> str:
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError as exc:
            reason = f"not UTF-8 text (byte {self._offset + exc.start + 1} cannot be read)"
            raise FileRejected([RowError(None, None, reason)]) from None
        self._offset += len(block)
        return text


MAX_HEADER_ERRORS = 100


def _check_header(
    columns: list[str], *, required: tuple[str, ...], optional: tuple[str, ...]
) -> None:
    errors: list[RowError] = []
    known = set(required) | set(optional)
    seen: set[str] = set()
    twice: set[str] = set()
    for name in columns:
        if name in seen:
            if name not in twice:  # once per name, however often it repeats
                twice.add(name)
                errors.append(RowError(None, name, "column appears twice in the header"))
            continue
        seen.add(name)
        if name not in known:
            errors.append(RowError(None, name or None, f"unknown column {name!r}"))
    errors.extend(RowError(None, name, "missing column") for name in required if name not in seen)
    if len(errors) > MAX_HEADER_ERRORS:  # a header of a million columns is one fault, not a million
        more = len(errors) - MAX_HEADER_ERRORS
        errors = errors[:MAX_HEADER_ERRORS]
        errors.append(RowError(None, None, f"and {more} more faults in the header"))
    if errors:
        raise FileRejected(errors)


_EXPONENT = re.compile(r"\d+(?:[.,]\d*)?[eE][+-]?\d+")
_GROUPED = re.compile(r"\d{1,3}(?:([., \u00a0\u202f])\d{3})(?:\1\d{3})*")


def parse_vnd(text: str, *, allow_zero: bool = True) -> int:
    """The money grammar of DESIGN 2.5: digits, optionally grouped by three; raises ValueError."""
    value = text.strip()
    if value.isdigit() and value.isascii():  # plain digits, the common case, checked first
        amount = int(value)
    elif not value:
        raise ValueError("empty: an amount in VND is required")
    elif value[0] in "+-":
        raise ValueError(f"{text!r} has a sign: amounts are whole VND without sign")
    elif _EXPONENT.fullmatch(value):
        raise ValueError(f"{text!r} has an exponent: write the amount in digits")
    elif grouped := _GROUPED.fullmatch(value):
        amount = int(value.replace(grouped[1], ""))  # one separator throughout (\1)
    else:
        raise ValueError(
            f"{text!r} is not a whole number of VND "
            "(digits, optionally in groups of three separated by . , or space; no decimals)"
        )
    if amount > MAX_AMOUNT:
        raise ValueError(f"{text!r} is above the limit of 10^15 VND")
    if amount == 0 and not allow_zero:
        raise ValueError("must be greater than 0")
    return amount


def parse_moment(text: str) -> datetime:
    """ISO 8601 with an offset, or local time (UTC+7) without one; returns aware UTC."""
    value = text.strip()
    if not value:
        raise ValueError("empty: a date and time is required")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 time (e.g. 2025-11-24T09:30:00+07:00)"
        ) from None
    return as_utc(moment)


_MSGSPEC_AT = re.compile(r"^(?P<reason>.*) - at `\$(?P<at>[^`]*)`$")
_MSGSPEC_FIELD = re.compile(
    r"^Object (?P<what>missing required|contains unknown) field `(?P<field>[^`]+)`$"
)
_MSGSPEC_EXPECTED = re.compile(
    r"^Expected `(?P<want>[^`]+)`(?P<bound>[^,]*)(?:, got `(?P<got>[^`]+)`)?$"
)


def describe_decode_error(message: str) -> tuple[str | None, str]:
    """Turn msgspec's one-line message into (field, reason) for a row report."""
    at, reason = "", message
    found = _MSGSPEC_AT.match(message)
    if found:
        at, reason = found["at"], found["reason"]
    field: str | None = at.lstrip(".").split(".")[0].split("[")[0] or None
    object_field = _MSGSPEC_FIELD.match(reason)
    if object_field:
        missing = object_field["what"] == "missing required"
        return object_field["field"], "required" if missing else "unknown field"
    expected = _MSGSPEC_EXPECTED.match(reason)
    if expected:
        want = {"int": "a JSON integer", "str": "a string", "array": "an array"}.get(
            expected["want"], expected["want"]
        )
        bound = expected["bound"].strip()
        got = f" (got {expected['got']})" if expected["got"] else ""
        return field, f"must be {want}{' ' + bound if bound else ''}{got}"
    return field, reason


def open_input_file(path: Path) -> BinaryIO:
    """An import's file, opened to be read in blocks; a path that is no file is bad input."""
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise BadInput(f"no such file: {path}") from None
    except IsADirectoryError:
        raise BadInput(f"{path} is a directory, not a file") from None
