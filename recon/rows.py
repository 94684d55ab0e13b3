"""Reading rows from files and batches: shared by dossier and statement imports (DESIGN 2.4).

A file is read whole before anything is stored; every bad row is reported by `row` (the line
number a spreadsheet shows: header = row 1, blank lines skipped but counted), `column` (the
header name) and `reason`. A file-level fault has `row` None.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import msgspec

from recon.domain import MAX_AMOUNT, as_utc
from recon.errors import BadInput


class RowError(msgspec.Struct, frozen=True):
    row: int | None
    column: str | None
    reason: str


class FileRejected(Exception):
    """The file cannot be read at all (encoding, header): nothing of it lands."""

    def __init__(self, errors: list[RowError], rows_read: int | None = None) -> None:
        super().__init__("; ".join(e.reason for e in errors))
        self.errors = errors
        # data rows read before the file was refused, where known (the summary's `received`)
        self.rows_read = rows_read


def decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRejected(
            [RowError(None, None, f"not UTF-8 text (byte {exc.start + 1} cannot be read)")]
        ) from None


def read_csv(
    data: bytes, *, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (row number, {column: cell}) for each non-blank data row; check the header first."""
    text = decode_text(data)
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise FileRejected([RowError(1, None, f"unreadable header: {exc}")]) from None
    if header is None or not any(cell.strip() for cell in header):
        raise FileRejected([RowError(None, None, "the file is empty: no header row")])
    columns = [cell.strip().lower() for cell in header]
    _check_header(columns, required=required, optional=optional)
    row = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FileRejected([RowError(row + 1, None, f"unreadable CSV: {exc}")]) from None
        row += 1
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(columns):
            yield row, {"": f"row has {len(cells)} fields, the header has {len(columns)}"}
            continue
        yield row, dict(zip(columns, cells, strict=True))


def _check_header(
    columns: list[str], *, required: tuple[str, ...], optional: tuple[str, ...]
) -> None:
    errors: list[RowError] = []
    known = set(required) | set(optional)
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            errors.append(RowError(None, name, "column appears twice in the header"))
        seen.add(name)
        if name not in known:
            errors.append(RowError(None, name or None, f"unknown column {name!r}"))
    errors.extend(RowError(None, name, "missing column") for name in required if name not in seen)
    if errors:
        raise FileRejected(errors)


_EXPONENT = re.compile(r"\d+(?:[.,]\d*)?[eE][+-]?\d+")
_GROUPED = re.compile(r"\d{1,3}(?:([., \u00a0\u202f])\d{3})(?:\1\d{3})*")


def parse_vnd(text: str, *, allow_zero: bool = True) -> int:
    """The money grammar of DESIGN 2.5: digits, optionally grouped by three; raises ValueError."""
    value = text.strip()
    if not value:
        raise ValueError("empty: an amount in VND is required")
    if value[0] in "+-":
        raise ValueError(f"{text!r} has a sign: amounts are whole VND without sign")
    if _EXPONENT.fullmatch(value):
        raise ValueError(f"{text!r} has an exponent: write the amount in digits")
    if value.isdigit() and value.isascii():
        amount = int(value)
    elif _GROUPED.fullmatch(value):
        amount = int(re.sub(r"\D", "", value))
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


async def read_input_file(path: Path) -> bytes:
    """An import's file, whole; a path that is no file is bad input, named."""
    try:
        return await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        raise BadInput(f"no such file: {path}") from None
    except IsADirectoryError:
        raise BadInput(f"{path} is a directory, not a file") from None
