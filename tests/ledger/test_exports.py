"""Ledger exports (DESIGN 5): CSV and XLSX, built from hand-made ledgers (no database)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from recon.ledger.exports import (
    CASE_TYPE_NAMES,
    export_filename,
    ledger_csv,
    ledger_xlsx,
    neutralise,
    open_cases_text,
    parse_ledger_csv,
)
from recon.ledger.schemas import FIGURES, Ledger, LedgerFigures, LedgerRow
from recon.vocab import CASE_TYPES

BOM = b"\xef\xbb\xbf"
JSON_ROW_FIELDS = [
    "date",
    "channel",
    "payments_count",
    "payments_amount",
    "refunds_count",
    "refunds_amount",
    "fees",
    "net",
    "matched_count",
    "matched_amount",
    "unmatched_count",
    "unmatched_amount",
    "open_cases",
    "closed",
]
VIETNAMESE_HEADERS = [
    "Ngày",
    "Kênh",
    "Số GD thanh toán",
    "Tiền thanh toán",
    "Số GD hoàn",
    "Tiền hoàn",
    "Phí kênh",
    "Thực thu (net)",
    "Số GD khớp",
    "Tiền khớp",
    "Số GD chưa khớp",
    "Tiền chưa khớp",
    "Hồ sơ cần xử lý",
    "Đã chốt sổ",
]
WARD = "UBND phường Hòa An"
D1 = date(2025, 11, 1)


def figures(
    payments: tuple[int, int] = (0, 0),
    refunds: tuple[int, int] = (0, 0),
    fees: int = 0,
    matched: tuple[int, int] | None = None,
    open_cases: dict[str, int] | None = None,
) -> dict[str, Any]:
    matched = matched if matched is not None else payments
    return {
        "payments_count": payments[0],
        "payments_amount": payments[1],
        "refunds_count": refunds[0],
        "refunds_amount": refunds[1],
        "fees": fees,
        "net": payments[1] - refunds[1] - fees,
        "matched_count": matched[0],
        "matched_amount": matched[1],
        "unmatched_count": payments[0] - matched[0],
        "unmatched_amount": payments[1] - matched[1],
        "open_cases": open_cases or {},
    }


def make_ledger(rows: list[LedgerRow], channels: list[str], start: date, end: date) -> Ledger:
    """Totals as the service builds them: per channel, then "all"."""
    totals = {name: LedgerFigures() for name in channels}
    totals["all"] = LedgerFigures()
    for row in rows:
        part = LedgerFigures(
            **{name: getattr(row, name) for name in FIGURES}, open_cases=dict(row.open_cases)
        )
        totals[row.channel].add(part)
        totals["all"].add(part)
    return Ledger(from_=start, to=end, rows=rows, totals=totals)


@pytest.fixture
def ledger() -> Ledger:
    """Three days × two channels: day 1 closed, a negative net, open cases."""
    day2, day3 = D1 + timedelta(days=1), D1 + timedelta(days=2)
    rows = [
        LedgerRow(
            date=D1,
            channel="momo",
            closed=True,
            **figures((3, 115_000), fees=1_650, matched=(2, 100_000)),
        ),
        LedgerRow(date=D1, channel="bank", closed=True, **figures((1, 2_000))),
        LedgerRow(
            date=day2,
            channel="momo",
            **figures((2, 30_000), fees=330, matched=(1, 15_000), open_cases={"OVERPAID": 1}),
        ),
        LedgerRow(
            date=day2,
            channel="bank",
            # more refunded than paid that day: net −5,000
            **figures(
                (0, 0),
                refunds=(1, 5_000),
                open_cases={"UNDERPAID": 1, "OVERPAID": 2, "UNMATCHED_REFUND": 1},
            ),
        ),
        LedgerRow(date=day3, channel="momo", **figures()),
        LedgerRow(
            date=day3,
            channel="bank",
            **figures((4, 1_234_567_000), fees=0, matched=(4, 1_234_567_000)),
        ),
    ]
    return make_ledger(rows, ["momo", "bank"], D1, day3)


# --- neutralise ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+84901234567", "'+84901234567"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("momo", "momo"),
        ("2025-11-01", "2025-11-01"),
        ('{"OVERPAID":1}', '{"OVERPAID":1}'),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_neutralise(text: str, expected: str) -> None:
    assert neutralise(text) == expected


# --- CSV -------------------------------------------------------------------------------------


def csv_lines(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_starts_with_bom_and_header_is_the_json_field_names(ledger: Ledger) -> None:
    data = ledger_csv(ledger)
    assert data.startswith(BOM)
    assert not data.startswith(BOM + BOM)
    lines = csv_lines(data)
    assert lines[0] == JSON_ROW_FIELDS
    json_row = msgspec.to_builtins(ledger)["rows"][0]
    assert set(lines[0]) == set(json_row)


def test_csv_lines(ledger: Ledger) -> None:
    lines = csv_lines(ledger_csv(ledger))
    assert len(lines) == 1 + len(ledger.rows) + len(ledger.totals)
    first = dict(zip(JSON_ROW_FIELDS, lines[1], strict=True))
    assert first["date"] == "2025-11-01"
    assert first["channel"] == "momo"
    assert first["payments_amount"] == "115000"
    assert first["open_cases"] == "{}"
    assert first["closed"] == "true"
    negative = dict(zip(JSON_ROW_FIELDS, lines[4], strict=True))
    assert negative["net"] == "-5000"  # a number stays a number: no quote mark
    assert negative["open_cases"] == '{"UNDERPAID":1,"OVERPAID":2,"UNMATCHED_REFUND":1}'
    assert negative["closed"] == "false"
    totals = [dict(zip(JSON_ROW_FIELDS, line, strict=True)) for line in lines[-3:]]
    assert [(t["date"], t["channel"], t["closed"]) for t in totals] == [
        ("total", "momo", ""),
        ("total", "bank", ""),
        ("total", "all", ""),
    ]
    assert totals[-1]["net"] == str(ledger.totals["all"].net)


def test_csv_parsed_back_equals_the_json(ledger: Ledger) -> None:
    parsed = parse_ledger_csv(ledger_csv(ledger))
    expected = msgspec.to_builtins(ledger)
    assert parsed["rows"] == expected["rows"]
    assert parsed["totals"] == expected["totals"]
    assert parsed == {"rows": expected["rows"], "totals": expected["totals"]}
    for entry in [*parsed["rows"], *parsed["totals"].values()]:
        for name in FIGURES:
            assert type(entry[name]) is int
    assert parsed["rows"][3]["net"] == -5_000


def test_csv_neutralises_text_but_not_numbers() -> None:
    rows = [
        LedgerRow(date=D1, channel='=HYPERLINK("http://x")', **figures(refunds=(1, 5_000))),
        LedgerRow(date=D1, channel="-5", **figures((1, 2_000))),
        LedgerRow(date=D1, channel="+84901234567", **figures()),
        LedgerRow(date=D1, channel="@cmd", **figures()),
    ]
    ledger = make_ledger(rows, [row.channel for row in rows], D1, D1)
    data = ledger_csv(ledger)
    lines = csv_lines(data)
    channels = [line[1] for line in lines[1:]]
    assert channels[:4] == ['\'=HYPERLINK("http://x")', "'-5", "'+84901234567", "'@cmd"]
    assert channels[4:] == ['\'=HYPERLINK("http://x")', "'-5", "'+84901234567", "'@cmd", "all"]
    assert lines[1][JSON_ROW_FIELDS.index("net")] == "-5000"
    assert b",-5000," in data
    # no cell of the file starts with a formula character, except bare integers
    for line in lines[1:]:
        for cell in line:
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                assert cell[1:].isdigit(), cell
    # and the reader gives the original text back
    parsed = parse_ledger_csv(data)
    expected = msgspec.to_builtins(ledger)
    assert parsed == {"rows": expected["rows"], "totals": expected["totals"]}


def test_csv_parser_rejects_what_ledger_csv_never_writes(ledger: Ledger) -> None:
    data = ledger_csv(ledger)
    with pytest.raises(ValueError, match="BOM"):
        parse_ledger_csv(data.removeprefix(BOM))
    with pytest.raises(ValueError, match="header"):
        parse_ledger_csv(data.replace(b"payments_count", b"payments", 1))
    with pytest.raises(ValueError, match="integer"):
        parse_ledger_csv(data.replace(b",115000,", b",115000.0,", 1))


def test_empty_ledger_csv() -> None:
    ledger = Ledger(from_=D1, to=D1, rows=[], totals={"all": LedgerFigures()})
    parsed = parse_ledger_csv(ledger_csv(ledger))
    expected = msgspec.to_builtins(ledger)
    assert parsed == {"rows": expected["rows"], "totals": expected["totals"]}


# hypothesis: random ledgers round-trip exactly
AMOUNTS = st.integers(min_value=0, max_value=10**15)
COUNTS = st.integers(min_value=0, max_value=10**6)
# channel names: anything a config key could hold, formula starts, quotes and separators
# included; a leading "'" is left out (neutralise does not mark it, so it reads back stripped)
CHANNEL_NAMES = st.text(alphabet='abmoz09_ =+-@\t\r\n",;.', min_size=1, max_size=10).filter(
    lambda name: name != "all"
)


@st.composite
def random_figures(draw: st.DrawFn) -> dict[str, Any]:
    values: dict[str, Any] = {name: draw(AMOUNTS) for name in FIGURES if name.endswith("amount")}
    values.update({name: draw(COUNTS) for name in FIGURES if name.endswith("count")})
    values["fees"] = draw(AMOUNTS)
    values["net"] = draw(st.integers(min_value=-(10**15), max_value=10**15))
    values["open_cases"] = draw(
        st.dictionaries(st.sampled_from(CASE_TYPES), st.integers(1, 10**6), max_size=4)
    )
    return values


@st.composite
def random_ledgers(draw: st.DrawFn) -> Ledger:
    channels = draw(st.lists(CHANNEL_NAMES, min_size=0, max_size=4, unique=True))
    start = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 1, 1)))
    days = draw(st.integers(min_value=1, max_value=4))
    rows = [
        LedgerRow(
            date=start + timedelta(days=n),
            channel=name,
            closed=draw(st.booleans()),
            **draw(random_figures()),
        )
        for n in range(days)
        for name in channels
    ]
    ledger = make_ledger(rows, channels, start, start + timedelta(days=days - 1))
    # totals need not be the sums for the format: make one of them arbitrary
    if draw(st.booleans()):
        ledger.totals["all"] = LedgerFigures(**draw(random_figures()))
    return ledger


@settings(max_examples=150, deadline=None)
@given(random_ledgers())
def test_csv_round_trips_random_ledgers(ledger: Ledger) -> None:
    parsed = parse_ledger_csv(ledger_csv(ledger))
    expected = msgspec.to_builtins(ledger)
    assert parsed == {"rows": expected["rows"], "totals": expected["totals"]}


# --- XLSX ------------------------------------------------------------------------------------


def read_xlsx(data: bytes) -> Worksheet:
    workbook = load_workbook(io.BytesIO(data))
    assert workbook.sheetnames == ["Sổ đối soát", "Tổng theo kênh"]
    sheet = workbook["Sổ đối soát"]
    assert isinstance(sheet, Worksheet)
    return sheet


def row_values(sheet: Worksheet, row: int) -> list[Any]:
    return [cell.value for cell in sheet[row]]


def test_xlsx_title_and_headers(ledger: Ledger) -> None:
    sheet = read_xlsx(ledger_xlsx(ledger, ward_name=WARD))
    title = sheet["A1"]
    assert title.value == (
        "Sổ đối soát thanh toán — UBND phường Hòa An — từ 01/11/2025 đến 03/11/2025"
    )
    assert title.font.bold
    assert "A1:N1" in {str(merged) for merged in sheet.merged_cells.ranges}
    assert row_values(sheet, 3) == VIETNAMESE_HEADERS
    assert all(cell.font.bold for cell in sheet[3])
    assert sheet.freeze_panes == "A4"
    for letter in "ABCDEFGHIJKLMN":
        width = sheet.column_dimensions[letter].width
        assert 8 <= width <= 60, (letter, width)


def test_xlsx_rows_hold_dates_and_numbers(ledger: Ledger) -> None:
    sheet = read_xlsx(ledger_xlsx(ledger, ward_name=WARD))
    for offset, row in enumerate(ledger.rows):
        cells = sheet[4 + offset]
        day = cells[0]
        assert isinstance(day.value, datetime)
        assert day.value.date() == row.date
        assert day.is_date
        assert day.number_format == "dd/mm/yyyy"
        assert cells[1].value == row.channel
        for cell, name in zip(cells[2:12], FIGURES, strict=True):
            assert type(cell.value) is int, (name, cell.value)
            assert cell.value == getattr(row, name)
            assert cell.number_format == "#,##0"
            assert cell.data_type == "n"
        assert cells[12].value == (open_cases_text(row.open_cases) or None)
        assert cells[13].value == ("Có" if row.closed else "Không")
    negative = sheet[4 + 3]
    assert negative[7].value == -5_000
    assert negative[12].value == "Thu thiếu: 1; Thu thừa: 2; Hoàn tiền không khớp: 1"


def test_xlsx_totals_equal_the_json(ledger: Ledger) -> None:
    sheet = read_xlsx(ledger_xlsx(ledger, ward_name=WARD))
    totals: dict[str, dict[str, Any]] = {}
    for cells in sheet.iter_rows(min_row=4):
        label = cells[0].value
        if label == "Tổng kênh":
            name = cells[1].value
        elif label == "Tổng cộng":
            name = "all"
            assert all(cell.font.bold for cell in cells)
        else:
            continue
        assert isinstance(name, str)
        assert all(type(cell.value) is int for cell in cells[2:12])
        assert all(cell.number_format == "#,##0" for cell in cells[2:12])
        totals[name] = {field: cell.value for field, cell in zip(FIGURES, cells[2:12], strict=True)}
        totals[name]["open_cases"] = cells[12].value or ""
    expected = msgspec.to_builtins(ledger)["totals"]
    assert list(totals) == ["momo", "bank", "all"]
    for name, entry in expected.items():
        assert {field: entry[field] for field in FIGURES} == {
            field: totals[name][field] for field in FIGURES
        }
        assert totals[name]["open_cases"] == open_cases_text(entry["open_cases"])
    assert totals["all"]["net"] == ledger.totals["all"].net


def test_xlsx_channels_sheet(ledger: Ledger) -> None:
    workbook = load_workbook(io.BytesIO(ledger_xlsx(ledger, ward_name=WARD)))
    sheet = workbook["Tổng theo kênh"]
    assert sheet["A3"].value == "Kênh"
    assert [sheet.cell(row=r, column=1).value for r in (4, 5, 6)] == ["momo", "bank", "Tổng cộng"]
    assert sheet.cell(row=6, column=7).value == ledger.totals["all"].net


def test_xlsx_neutralises_text_cells() -> None:
    ward = '=HYPERLINK("http://evil","bấm")'
    rows = [
        LedgerRow(date=D1, channel="=cmd|' /C calc'!A0", **figures(refunds=(1, 5_000))),
        LedgerRow(date=D1, channel="+84901234567", **figures()),
    ]
    ledger = make_ledger(rows, [row.channel for row in rows], D1, D1)
    workbook = load_workbook(io.BytesIO(ledger_xlsx(ledger, ward_name=ward)))
    for sheet in workbook.worksheets:
        for cells in sheet.iter_rows():
            for cell in cells:
                assert cell.data_type != "f", cell.coordinate  # no formula anywhere
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@")), cell.coordinate
    sheet = workbook["Sổ đối soát"]
    title = sheet["A1"]
    assert title.data_type == "s"
    assert title.value == f"Sổ đối soát thanh toán — {ward} — từ 01/11/2025 đến 01/11/2025"
    assert sheet["B4"].value == "'=cmd|' /C calc'!A0"
    assert sheet["B5"].value == "'+84901234567"
    assert sheet["H4"].value == -5_000  # the negative net stays a number
    assert sheet["H4"].data_type == "n"


def test_xlsx_empty_ledger() -> None:
    ledger = Ledger(from_=D1, to=D1, rows=[], totals={"all": LedgerFigures()})
    sheet = read_xlsx(ledger_xlsx(ledger, ward_name=WARD))
    assert row_values(sheet, 3) == VIETNAMESE_HEADERS
    assert sheet["A5"].value == "Tổng cộng"
    assert sheet["C5"].value == 0


# --- names -----------------------------------------------------------------------------------


def test_case_type_names_cover_every_case_type() -> None:
    assert set(CASE_TYPE_NAMES) == set(CASE_TYPES)
    assert CASE_TYPE_NAMES["UNDERPAID"] == "Thu thiếu"
    assert CASE_TYPE_NAMES["OVERPAID"] == "Thu thừa"


def test_open_cases_text_follows_the_case_type_order() -> None:
    assert open_cases_text({"OVERPAID": 2, "UNDERPAID": 1}) == "Thu thiếu: 1; Thu thừa: 2"
    assert open_cases_text({}) == ""
    assert open_cases_text({"NEW_TYPE": 3, "OVERPAID": 1}) == "Thu thừa: 1; NEW_TYPE: 3"


def test_export_filename(ledger: Ledger) -> None:
    assert export_filename(ledger, "xlsx") == "so-doi-soat_2025-11-01_2025-11-03.xlsx"
    assert export_filename(ledger, ".csv") == "so-doi-soat_2025-11-01_2025-11-03.csv"
    assert export_filename(ledger, "csv").isascii()
    with pytest.raises(ValueError, match="extension"):
        export_filename(ledger, 'x"; filename=evil')
