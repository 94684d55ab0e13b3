"""A statement file's format: CSV is read as it is, an XLSX workbook's first sheet is turned
into CSV text first (whole: the workbook is a ZIP), and an old .xls workbook is refused, so
that one reader (`recon.rows.CsvReader`) numbers rows and checks headers for both.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import BinaryIO

import openpyxl

from recon.rows import FileRejected, RowError


def csv_stream(name: str, source: BinaryIO) -> BinaryIO:
    """The file as CSV bytes: itself, or an XLSX workbook's first sheet turned into CSV."""
    lowered = name.lower()
    head = source.read(8)
    source.seek(0)
    if lowered.endswith(".xlsx") or head.startswith(b"PK\x03\x04"):
        return io.BytesIO(_xlsx_as_csv(source.read()))
    if lowered.endswith(".xls") or head.startswith(b"\xd0\xcf\x11\xe0"):
        reason = "an old Excel .xls workbook: save it as .xlsx or CSV (UTF-8)"
        raise FileRejected([RowError(None, None, reason)])
    return source


def _xlsx_as_csv(data: bytes) -> bytes:
    """The first sheet as CSV, one line per sheet row, so row numbers stay the sheet's."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0]
            sheet.reset_dimensions()  # exporters often write a wrong <dimension>: read every cell
            width: int | None = None  # the header's
            for values in sheet.iter_rows(min_row=1, values_only=True):
                cells = [_cell_text(value) for value in values]
                while len(cells) > (width or 0) and not cells[-1].strip():
                    cells.pop()  # empty trailing cells are formatting, not fields
                width = len(cells) if width is None else width
                writer.writerow(cells + [""] * (width - len(cells)))
        finally:
            book.close()
    except Exception as exc:  # a damaged workbook fails in many ways: zip, XML read lazily, …
        reason = f"not a readable XLSX workbook ({type(exc).__name__}: {exc})"
        raise FileRejected([RowError(None, None, reason)]) from None
    return out.getvalue().encode()


def _cell_text(value: object) -> str:
    """An XLSX cell as the text a CSV export of it would hold."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        # spreadsheets store every number as a float: 1500.0 is the whole number 1500
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat()  # naive: local time, as a CSV time without an offset
    return str(value)  # a fractional float stays "1.5", which the money grammar refuses
