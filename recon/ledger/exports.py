"""Ledger exports for an accountant (DESIGN 5): CSV (UTF-8 with BOM) and XLSX.

Both are safe against formula injection: every text cell goes through `neutralise`; numbers are
written as numbers (int VND, a negative net included) and never touched.

The CSV header is the JSON field names of a ledger row; one line per row, then one line per
totals entry with `date` = `total`, `channel` = the channel name or `all` and `closed` empty.
`parse_ledger_csv` reads it back into the `rows` and `totals` of the JSON document. The CSV
carries no range of its own (the filename does): `from` and `to` are not in it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import msgspec
from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from recon.ledger.schemas import FIGURES, Ledger, LedgerFigures

BOM = "\ufeff"
# OWASP CSV injection: a cell starting with one of these may be read as a formula.
DANGEROUS_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_FIELDS = ("date", "channel", *FIGURES, "open_cases", "closed")
TOTAL_DATE = "total"
ALL_CHANNELS = "all"

CASE_TYPE_NAMES: dict[str, str] = {
    "UNDERPAID": "Thu thiếu",
    "OVERPAID": "Thu thừa",
    "DUPLICATE_PAYMENT": "Thanh toán trùng",
    "PAYMENT_ON_CLOSED_DOSSIER": "Hồ sơ đã huỷ/từ chối có thu tiền",
    "UNMATCHED_PAYMENT": "Khoản thu không rõ hồ sơ",
    "AMBIGUOUS_REFERENCE": "Nội dung nhắc nhiều hồ sơ",
    "UNMATCHED_REFUND": "Hoàn tiền không khớp",
    "MISSING_IN_STATEMENT": "Thiếu trong sao kê",
    "STATUS_CONFLICT": "Trạng thái mâu thuẫn",
    "CONTROL_TOTAL_MISMATCH": "Sao kê lệch tổng kiểm soát",
}

FIGURE_HEADERS: dict[str, str] = {
    "payments_count": "Số GD thanh toán",
    "payments_amount": "Tiền thanh toán",
    "refunds_count": "Số GD hoàn",
    "refunds_amount": "Tiền hoàn",
    "fees": "Phí kênh",
    "net": "Thực thu (net)",
    "matched_count": "Số GD khớp",
    "matched_amount": "Tiền khớp",
    "unmatched_count": "Số GD chưa khớp",
    "unmatched_amount": "Tiền chưa khớp",
}
XLSX_HEADERS = (
    "Ngày",
    "Kênh",
    *(FIGURE_HEADERS[name] for name in FIGURES),
    "Hồ sơ cần xử lý",
    "Đã chốt sổ",
)
SHEET_TITLE = "Sổ đối soát"
CHANNELS_SHEET_TITLE = "Tổng theo kênh"
TITLE_ROW = 1
UNIT_ROW = 2
HEADER_ROW = 3
NUMBER_FORMAT = "#,##0"
DATE_FORMAT = "dd/mm/yyyy"
EXCEL_FIRST_DAY = date(1900, 1, 1)  # a spreadsheet's day 1: earlier days have no date serial
GRAND_TOTAL_LABEL = "Tổng cộng"
CHANNEL_TOTAL_LABEL = "Tổng kênh"
ALL_CHANNELS_LABEL = "Tất cả các kênh"
CLOSED_LABELS = {True: "Có", False: "Không"}
MAX_COLUMN_WIDTH = 60

_EXTENSION = re.compile(r"[a-z0-9]{1,10}")


def neutralise(text: str) -> str:
    """A text cell that a spreadsheet could read as a formula gets a leading `'`."""
    return "'" + text if text.startswith(DANGEROUS_STARTS) else text


def _unneutralise(text: str) -> str:
    if text.startswith("'") and text[1:].startswith(DANGEROUS_STARTS):
        return text[1:]
    return text


def export_filename(ledger: Ledger, extension: str) -> str:
    """`so-doi-soat_2025-11-01_2025-11-30.xlsx`: ASCII only, fit for Content-Disposition."""
    ext = extension.lower().removeprefix(".")
    if not _EXTENSION.fullmatch(ext):
        raise ValueError(f"not a file extension: {extension!r}")
    return f"so-doi-soat_{ledger.from_.isoformat()}_{ledger.to.isoformat()}.{ext}"


def _ordered_cases(open_cases: Mapping[str, int]) -> list[tuple[str, int]]:
    known = list(CASE_TYPE_NAMES)
    return sorted(
        open_cases.items(),
        key=lambda item: (known.index(item[0]) if item[0] in known else len(known), item[0]),
    )


def open_cases_text(open_cases: Mapping[str, int]) -> str:
    """`Thu thiếu: 1; Thu thừa: 2`, in the order of CASE_TYPE_NAMES."""
    return "; ".join(
        f"{CASE_TYPE_NAMES.get(case_type, case_type)}: {count}"
        for case_type, count in _ordered_cases(open_cases)
    )


def _totals_in_order(ledger: Ledger) -> list[tuple[str, LedgerFigures]]:
    """Channel totals in the ledger's order, then `all`."""
    channels = [(name, f) for name, f in ledger.totals.items() if name != ALL_CHANNELS]
    grand = ledger.totals.get(ALL_CHANNELS)
    return channels + ([(ALL_CHANNELS, grand)] if grand is not None else [])


# --- CSV -------------------------------------------------------------------------------------


def _csv_line(day: str, channel: str, figures: LedgerFigures, closed: str) -> list[str | int]:
    cases = msgspec.json.encode(figures.open_cases).decode()
    return [
        neutralise(day),
        neutralise(channel),
        *(int(getattr(figures, name)) for name in FIGURES),
        neutralise(cases),
        neutralise(closed),
    ]


def ledger_csv(ledger: Ledger) -> bytes:
    """The ledger as CSV: UTF-8 with BOM, `,`-separated, header = the JSON field names."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_FIELDS)
    for row in ledger.rows:
        closed = "true" if row.closed else "false"
        writer.writerow(_csv_line(row.date.isoformat(), row.channel, row, closed))
    for name, figures in _totals_in_order(ledger):
        writer.writerow(_csv_line(TOTAL_DATE, name, figures, ""))
    return (BOM + out.getvalue()).encode("utf-8")


def _parse_int(text: str, field: str, line: int) -> int:
    if not re.fullmatch(r"-?[0-9]+", text):
        raise ValueError(f"line {line}: {field} is not an integer: {text!r}")
    return int(text)


def parse_ledger_csv(data: bytes) -> dict[str, Any]:
    """Read `ledger_csv` back: `{"rows": [...], "totals": {...}}` as in the JSON ledger.

    Raises ValueError on anything `ledger_csv` would not have written.
    """
    if not data.startswith(BOM.encode("utf-8")):
        raise ValueError("the CSV does not start with a UTF-8 BOM")
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    header = next(reader, None)
    if header is None or tuple(header) != CSV_FIELDS:
        raise ValueError(f"unexpected CSV header: {header!r}")
    rows: list[dict[str, Any]] = []
    totals: dict[str, dict[str, Any]] = {}
    for line, cells in enumerate(reader, start=2):
        if len(cells) != len(CSV_FIELDS):
            raise ValueError(f"line {line}: {len(cells)} cells, expected {len(CSV_FIELDS)}")
        text = dict(zip(CSV_FIELDS, (_unneutralise(cell) for cell in cells), strict=True))
        entry: dict[str, Any] = {name: _parse_int(text[name], name, line) for name in FIGURES}
        try:
            cases = msgspec.json.decode(text["open_cases"], type=dict[str, int])
        except msgspec.ValidationError as exc:  # DecodeError is a subclass
            raise ValueError(f"line {line}: open_cases: {exc}") from exc
        entry["open_cases"] = cases
        if text["date"] == TOTAL_DATE:
            if text["closed"] != "":
                raise ValueError(f"line {line}: a totals line has no closed flag")
            if text["channel"] in totals:
                raise ValueError(f"line {line}: totals for {text['channel']!r} twice")
            totals[text["channel"]] = entry
            continue
        if totals:
            raise ValueError(f"line {line}: a row after the totals")
        if text["closed"] not in ("true", "false"):
            raise ValueError(f"line {line}: closed is not true/false: {text['closed']!r}")
        entry["date"] = date.fromisoformat(text["date"]).isoformat()
        entry["channel"] = text["channel"]
        entry["closed"] = text["closed"] == "true"
        rows.append(entry)
    return {"rows": rows, "totals": totals}


# --- XLSX ------------------------------------------------------------------------------------

_BOLD = Font(bold=True)
_HEADER_FILL = PatternFill(fill_type="solid", start_color="FFDDEBF7", end_color="FFDDEBF7")
_THIN = Side(style="thin")
_TOP_BORDER = Border(top=_THIN)


def _text(ws: Worksheet, row: int, column: int, value: str) -> Cell:
    cell = ws.cell(row=row, column=column)
    assert isinstance(cell, Cell)  # never inside a merged range
    cell.value = neutralise(value)
    cell.data_type = "s"  # never a formula, whatever the text
    return cell


def _number(ws: Worksheet, row: int, column: int, value: int) -> Cell:
    cell = ws.cell(row=row, column=column, value=int(value))
    assert isinstance(cell, Cell)
    cell.number_format = NUMBER_FORMAT
    return cell


def _dmy(day: date) -> str:
    """`dd/mm/yyyy`, the year in four digits whatever the year (strftime writes 1 for 0001)."""
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def _day(ws: Worksheet, row: int, column: int, day: date) -> None:
    """A date cell; before 1900, where a spreadsheet has no dates, the date as text."""
    if day < EXCEL_FIRST_DAY:
        _text(ws, row, column, _dmy(day))
        return
    cell = ws.cell(row=row, column=column, value=day)
    cell.number_format = DATE_FORMAT


def _figures(ws: Worksheet, row: int, first_column: int, figures: LedgerFigures) -> int:
    """Writes the figures and the open cases text; returns the next free column."""
    column = first_column
    for name in FIGURES:
        _number(ws, row, column, getattr(figures, name))
        column += 1
    _text(ws, row, column, open_cases_text(figures.open_cases))
    return column + 1


def _header(ws: Worksheet, row: int, headers: Iterable[str]) -> None:
    for column, title in enumerate(headers, start=1):
        cell = _text(ws, row, column, title)
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _title(ws: Worksheet, text: str, columns: int) -> None:
    cell = _text(ws, TITLE_ROW, 1, text)
    cell.font = Font(bold=True, size=14)
    ws.merge_cells(start_row=TITLE_ROW, start_column=1, end_row=TITLE_ROW, end_column=columns)
    unit = _text(ws, UNIT_ROW, 1, "Đơn vị tính: đồng")
    unit.font = Font(italic=True)


def _fit_columns(ws: Worksheet, first_row: int, minimum: int = 8) -> None:
    """Widths from the longest rendered value of each column (the title row left out)."""
    widths: dict[int, int] = {}
    for cells in ws.iter_rows(min_row=first_row):
        for column, cell in enumerate(cells, start=1):
            value = cell.value
            if value is None:
                continue
            if isinstance(value, int) and not isinstance(value, bool):
                length = len(f"{value:,}")
            elif isinstance(value, date):
                length = len(DATE_FORMAT)
            else:
                length = len(str(value))
            if cell.row == HEADER_ROW:  # headers wrap: about half their length is enough
                length = max(length // 2 + 1, min(length, 12))
            widths[column] = max(widths.get(column, 0), length)
    for column, length in widths.items():
        width = min(max(length + 2, minimum), MAX_COLUMN_WIDTH)
        ws.column_dimensions[get_column_letter(column)].width = width


def _print_setup(ws: Worksheet) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"


def xlsx_title(ledger: Ledger, ward_name: str) -> str:
    start, end = _dmy(ledger.from_), _dmy(ledger.to)
    return f"Sổ đối soát thanh toán — {ward_name} — từ {start} đến {end}"


def _ledger_sheet(ws: Worksheet, ledger: Ledger, title: str) -> None:
    ws.title = SHEET_TITLE
    _title(ws, title, len(XLSX_HEADERS))
    _header(ws, HEADER_ROW, XLSX_HEADERS)
    ws.row_dimensions[HEADER_ROW].height = 32
    row_number = HEADER_ROW
    for row in ledger.rows:
        row_number += 1
        _day(ws, row_number, 1, row.date)
        _text(ws, row_number, 2, row.channel)
        column = _figures(ws, row_number, 3, row)
        _text(ws, row_number, column, CLOSED_LABELS[row.closed])
    last_data_row = row_number
    if ledger.rows:
        ws.auto_filter.ref = f"A{HEADER_ROW}:{get_column_letter(len(XLSX_HEADERS))}{last_data_row}"
    row_number += 1  # a blank row between the days and the totals
    for index, (name, figures) in enumerate(_totals_in_order(ledger)):
        row_number += 1
        grand = name == ALL_CHANNELS
        label = GRAND_TOTAL_LABEL if grand else CHANNEL_TOTAL_LABEL
        _text(ws, row_number, 1, label)
        _text(ws, row_number, 2, ALL_CHANNELS_LABEL if grand else name)
        _figures(ws, row_number, 3, figures)
        for column in range(1, len(XLSX_HEADERS) + 1):
            cell = ws.cell(row=row_number, column=column)
            if grand:
                cell.font = _BOLD
            if index == 0 or grand:
                cell.border = _TOP_BORDER
    ws.freeze_panes = f"A{HEADER_ROW + 1}"
    _fit_columns(ws, UNIT_ROW + 1)
    _print_setup(ws)


def _channels_sheet(ws: Worksheet, ledger: Ledger, title: str) -> None:
    headers = ("Kênh", *(FIGURE_HEADERS[name] for name in FIGURES), "Hồ sơ cần xử lý")
    _title(ws, title, len(headers))
    _header(ws, HEADER_ROW, headers)
    ws.row_dimensions[HEADER_ROW].height = 32
    row_number = HEADER_ROW
    for name, figures in _totals_in_order(ledger):
        row_number += 1
        grand = name == ALL_CHANNELS
        _text(ws, row_number, 1, GRAND_TOTAL_LABEL if grand else name)
        _figures(ws, row_number, 2, figures)
        if grand:
            for column in range(1, len(headers) + 1):
                cell = ws.cell(row=row_number, column=column)
                cell.font = _BOLD
                cell.border = _TOP_BORDER
    ws.freeze_panes = f"A{HEADER_ROW + 1}"
    _fit_columns(ws, UNIT_ROW + 1)
    _print_setup(ws)


def ledger_xlsx(ledger: Ledger, *, ward_name: str) -> bytes:
    """The ledger as an XLSX workbook: sheet "Sổ đối soát" (days, then totals) and
    "Tổng theo kênh" (the totals alone)."""
    title = xlsx_title(ledger, ward_name)
    workbook = Workbook()
    sheet = workbook.active
    assert isinstance(sheet, Worksheet)
    _ledger_sheet(sheet, ledger, title)
    _channels_sheet(workbook.create_sheet(CHANNELS_SHEET_TITLE), ledger, title)
    workbook.properties.title = title
    workbook.properties.creator = "recon"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


FORMATS = ("json", "csv", "xlsx")
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv",  # Litestar adds `; charset=utf-8` to every text/* type
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def render_ledger(ledger: Ledger, fmt: str, *, ward_name: str) -> bytes:
    """The ledger in one of FORMATS, as the CLI, the API and the web page hand it out."""
    if fmt == "csv":
        return ledger_csv(ledger)
    if fmt == "xlsx":
        return ledger_xlsx(ledger, ward_name=ward_name)
    return msgspec.json.encode(ledger) + b"\n"
