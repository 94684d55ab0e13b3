"""Statement files (DESIGN 2.4): CSV or XLSX, in canonical columns or a channel's native export.

`statement_batches` reads a file a batch of lines at a time; once a row is bad it yields no
more lines, reads on to find every other bad row, and raises `FileRejected` naming them all
(`row` = the row number a spreadsheet shows, `column` = the header as written in the file): the
importer rolls back what it stored of the batches before. A channel's `mapping` setting picks
how columns are read (`resolve_mapping`).

The parts, each in its own module:

* `adapters.file_formats`: CSV as it is, an XLSX workbook's first sheet turned into CSV
* `adapters.file_rows`: `Row` (a row read carefully, naming each fault), `Fields`, `Layout`
* `adapters.file_mappings`: the canonical columns, renamed by a mapping or not, with a fast path
  for rows without a fault; `SHIPPED_MAPPINGS`; `resolve_mapping`
* `adapters.file_vnpay`: VNPay's native export
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import BinaryIO

from adapters.file_formats import csv_stream
from adapters.file_mappings import CANONICAL_COLUMNS, SHIPPED_MAPPINGS, resolve_mapping
from adapters.file_rows import Fields, Layout, Row
from adapters.lines import mask_number
from recon.domain import StatementLine, business_day_of
from recon.rows import CsvReader, FileRejected, RowError

__all__ = ["BATCH", "SHIPPED_MAPPINGS", "statement_batches"]

BATCH = 10_000  # lines read and handed on at a time


def statement_batches(
    name: str,
    source: BinaryIO,
    *,
    channel: str,
    mapping: str | Mapping[str, str] | None = None,
    size: int = BATCH,
) -> Iterator[list[StatementLine]]:
    """A statement file's lines, `size` at a time, while no row is bad; then `FileRejected`
    naming every bad row (with the number of data rows read), if any.

    `name` decides the format by its extension (`.xlsx`), as does a ZIP signature; anything
    else is CSV. An unusable `mapping` is a ValueError, raised before the file is read.
    """
    layout = resolve_mapping(mapping)
    names = {c.lower(): c for c in (*layout.required, *layout.optional)}
    try:
        reader = CsvReader(csv_stream(name, source))
        written = dict(zip(reader.columns, reader.header, strict=True))
        names |= written
        optional = (*layout.optional, *(() if layout.strict else written.values()))
        reader.check_header(
            required=tuple(c.lower() for c in layout.required),
            optional=tuple(c.lower() for c in optional),
        )
        yield from _batches(reader, layout, names, channel, size)
    except FileRejected as exc:
        if exc.rows_read is not None:  # the rows' own faults, named already
            raise
        raise FileRejected([_as_written(e, names, layout.strict) for e in exc.errors]) from None


def _batches(
    reader: CsvReader,
    layout: Layout,
    names: Mapping[str, str],
    channel: str,
    size: int,
) -> Iterator[list[StatementLine]]:
    index = {column: i for i, column in enumerate(reader.columns)}
    fast = layout.fast(index) if layout.fast is not None else None
    payer_at = index.get(layout.payer_column) if layout.payer_column is not None else None
    id_column = names.get(layout.id_column, layout.id_column)
    header = reader.header
    lines: list[StatementLine] = []
    errors: list[RowError] = []
    first_row_of: dict[str, int] = {}
    read = 0
    for number, cells in reader.rows():
        read += 1
        if isinstance(cells, str):  # a row whose number of fields is not the header's
            errors.append(RowError(number, None, cells))
            continue
        fields = fast(cells) if fast is not None else None
        if fields is None:
            row = Row(number, dict(zip(reader.columns, cells, strict=True)), names)
            fields = layout.convert(row)
            errors.extend(row.errors)
            good = not row.errors
        else:
            good = True
        txn_id = fields.channel_txn_id
        if txn_id and first_row_of.setdefault(txn_id, number) != number:
            reason = f"channel_txn_id {txn_id!r} also on row {first_row_of[txn_id]}"
            errors.append(RowError(number, id_column, reason))
            good = False
        if good and not errors:  # once the file is rejected, only errors matter
            raw = dict(zip(header, cells))  # noqa: B905 (the reader checked the width)
            if payer_at is not None:  # the full number must not be stored, not even in raw
                payer = cells[payer_at]
                # a cell without surrounding space is what `payer` was masked from
                masked = fields.payer if payer == payer.strip() else mask_number(payer)
                raw[header[payer_at]] = masked or ""
            lines.append(_line(channel, fields, raw))
            if len(lines) >= size:
                yield lines
                lines = []
    if errors:
        raise FileRejected(errors, rows_read=read)
    if lines:
        yield lines


def _as_written(error: RowError, names: Mapping[str, str], strict: bool) -> RowError:
    """CsvReader names columns in lower case: name them as the file writes them."""
    if not error.column:
        return error
    column = names.get(error.column, error.column)
    reason = error.reason.replace(repr(error.column), repr(column))
    if strict and reason.startswith("unknown column"):
        reason += f" (the columns are {', '.join(CANONICAL_COLUMNS)})"
    return RowError(error.row, column, reason)


def _line(channel: str, fields: Fields, raw: dict[str, str]) -> StatementLine:
    return StatementLine(
        channel=channel,
        channel_txn_id=fields.channel_txn_id,
        order_ref=fields.order_ref,
        amount=fields.amount,
        fee=fields.fee,
        kind=fields.kind,
        status=fields.status,
        paid_at=fields.paid_at,
        business_day=business_day_of(fields.paid_at),
        description=fields.description,
        payer=fields.payer,
        raw=raw,
    )
