"""Statement files (DESIGN 2.4): CSV and XLSX, canonical columns, column mappings, the VNPay
export; every bad row named by row and column, and nothing of a bad file returned."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.files import SHIPPED_MAPPINGS, statement_batches
from recon.domain import LINE_KINDS, LINE_STATUSES, LOCAL_TZ, StatementLine
from recon.rows import FileRejected, RowError

STATEMENTS = Path(__file__).resolve().parents[2] / "fixtures" / "data" / "statements"
HEADER = "channel_txn_id,order_ref,amount,fee,kind,status,paid_at,description,payer"
GOOD = "ZP001,ZP-H1725241125-0042,50.000,1.100,payment,success,2025-11-24T09:30:00+07:00,Lệ phí hồ sơ H17.25-241125-0042,0901234567"
VNPAY_HEADER = "vnp_TxnRef,vnp_Amount,vnp_OrderInfo,vnp_ResponseCode,vnp_TransactionNo,vnp_TransactionType,vnp_TransactionStatus,vnp_BankCode,vnp_CardType,vnp_PayDate"
VNPAY_GOOD = "H1725241125004201,5000000,Thanh toan le phi ho so H17.25-241125-0042,00,14687012,01,00,NCB,ATM,20251124093000"


def parse_statement_file(name: str, data: bytes, **kwargs: Any) -> list[StatementLine]:
    """Every line of a statement file at once, or `FileRejected` naming every bad row."""
    return [line for batch in statement_batches(name, io.BytesIO(data), **kwargs) for line in batch]


def csv_bytes(*lines: str, delimiter: str = ",", bom: bool = False) -> bytes:
    text = "\n".join(line.replace(",", delimiter) for line in lines) + "\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


def parse(*lines: str, **kwargs: Any) -> list[StatementLine]:
    return parse_statement_file("statement.csv", csv_bytes(*lines), channel="zalopay", **kwargs)


def rejected(*lines: str, **kwargs: Any) -> list[RowError]:
    with pytest.raises(FileRejected) as caught:
        parse(*lines, **kwargs)
    return caught.value.errors


def with_cell(line: str, column: str, value: str, header: str = HEADER) -> str:
    """`line` with the cell of `column` replaced (cells hold no commas in these tests)."""
    cells = line.split(",")
    cells[header.split(",").index(column)] = value
    return ",".join(cells)


# --- CSV -------------------------------------------------------------------------------------


@pytest.mark.parametrize("bom", [False, True])
@pytest.mark.parametrize("delimiter", [",", ";"])
def test_a_canonical_csv_row_becomes_a_line(delimiter: str, bom: bool) -> None:
    data = csv_bytes(HEADER, GOOD, delimiter=delimiter, bom=bom)
    [line] = parse_statement_file("s.csv", data, channel="zalopay")
    assert line == StatementLine(
        channel="zalopay",
        channel_txn_id="ZP001",
        order_ref="ZP-H1725241125-0042",
        amount=50_000,
        fee=1_100,
        kind="payment",
        status="success",
        paid_at=datetime(2025, 11, 24, 2, 30, tzinfo=UTC),
        business_day=date(2025, 11, 24),
        description="Lệ phí hồ sơ H17.25-241125-0042",
        payer="*******567",
        raw=dict(
            zip(HEADER.split(","), with_cell(GOOD, "payer", "*******567").split(","), strict=True)
        ),
    )
    assert line.dossier_hint is None
    assert line.refund_of is None


def test_only_the_required_columns_are_needed_and_an_empty_fee_is_zero() -> None:
    header = "paid_at,status,kind,amount,channel_txn_id,fee"
    [line] = parse(header, "2025-11-24T09:30:00+07:00,success,refund,1500,R1,")
    assert (line.channel_txn_id, line.amount, line.fee, line.kind) == ("R1", 1500, 0, "refund")
    assert (line.order_ref, line.description, line.payer) == (None, "", None)


def test_enum_values_are_case_insensitive() -> None:
    line = with_cell(with_cell(GOOD, "kind", "Settlement"), "status", "REVERSED")
    [parsed] = parse(HEADER, line)
    assert (parsed.kind, parsed.status) == ("settlement", "reversed")


def test_header_names_are_matched_case_insensitively_and_reported_as_written() -> None:
    header = HEADER.replace("amount", "Amount").replace("kind", "KIND")
    [line] = parse(header, GOOD)
    assert line.amount == 50_000
    assert "Amount" in line.raw
    assert rejected(header, with_cell(GOOD, "amount", "0")) == [
        RowError(2, "Amount", "must be greater than 0")
    ]


def test_the_payer_is_masked_in_the_line_and_in_its_raw_row() -> None:
    [line] = parse(HEADER, GOOD)
    assert line.payer == "*******567"
    assert line.raw["payer"] == "*******567"
    assert "0901234567" not in repr(line)


def test_a_header_only_file_is_an_empty_statement() -> None:
    assert parse(HEADER) == []
    assert parse_statement_file("s.csv", b"\xef\xbb\xbf" + HEADER.encode(), channel="x") == []


def test_a_file_without_a_header_is_rejected() -> None:
    with pytest.raises(FileRejected) as caught:
        parse_statement_file("s.csv", b"", channel="zalopay")
    assert [(e.row, e.column) for e in caught.value.errors] == [(None, None)]


def test_a_file_that_is_not_utf8_is_rejected_as_a_whole() -> None:
    data = (HEADER + "\n" + GOOD + "\n").encode("cp1258", errors="replace")
    with pytest.raises(FileRejected) as caught:
        parse_statement_file("s.csv", data, channel="zalopay")
    [error] = caught.value.errors
    assert (error.row, error.column) == (None, None)
    assert "UTF-8" in error.reason


def test_an_old_xls_workbook_is_rejected_with_advice() -> None:
    with pytest.raises(FileRejected) as caught:
        parse_statement_file("s.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", channel="zalopay")
    [error] = caught.value.errors
    assert error.row is None
    assert ".xlsx" in error.reason


# --- bad rows --------------------------------------------------------------------------------

BAD_CELLS = [
    pytest.param("amount", "0", "greater than 0", id="amount-zero"),
    pytest.param("amount", "-50000", "sign", id="amount-negative"),
    pytest.param("amount", "1.5", "not a whole number", id="amount-decimal"),
    pytest.param("amount", "năm chục", "not a whole number", id="amount-text"),
    pytest.param("amount", str(10**15 + 1), "10^15", id="amount-above-limit"),
    pytest.param("amount", "", "empty", id="amount-empty"),
    pytest.param("fee", "-1", "sign", id="fee-negative"),
    pytest.param("fee", "1.5", "not a whole number", id="fee-decimal"),
    pytest.param("fee", "N/A", "not a whole number", id="fee-text"),
    pytest.param("kind", "transfer", "not one of payment, refund, settlement", id="kind"),
    pytest.param("kind", "", "required", id="kind-empty"),
    pytest.param("status", "done", "not one of success, failed, pending, reversed", id="status"),
    pytest.param("paid_at", "24/11/2025 09:30", "ISO 8601", id="paid_at"),
    pytest.param("paid_at", "", "empty", id="paid_at-empty"),
    pytest.param("channel_txn_id", "", "required", id="txn-id-empty"),
    pytest.param("channel_txn_id", "Z" * 129, "longer than 128", id="txn-id-long"),
    pytest.param("order_ref", "R" * 129, "longer than 128", id="order-ref-long"),
]


@pytest.mark.parametrize(("column", "value", "reason"), BAD_CELLS)
def test_a_bad_cell_is_named_by_row_and_column(column: str, value: str, reason: str) -> None:
    [error] = rejected(HEADER, GOOD.replace("ZP001", "ZP000"), with_cell(GOOD, column, value))
    assert (error.row, error.column) == (3, column)
    assert reason in error.reason


def test_every_bad_row_is_reported_and_nothing_of_the_file_is_returned() -> None:
    errors = rejected(
        HEADER,
        with_cell(GOOD, "amount", "0"),
        GOOD.replace("ZP001", "ZP002"),
        with_cell(with_cell(GOOD, "kind", "gift"), "channel_txn_id", "ZP003"),
        with_cell(with_cell(GOOD, "fee", "x"), "channel_txn_id", "ZP004").replace(
            "2025-11-24T09:30:00+07:00", "hôm qua"
        ),
    )
    assert [(e.row, e.column) for e in errors] == [
        (2, "amount"),
        (4, "kind"),
        (5, "fee"),
        (5, "paid_at"),
    ]


def test_blank_lines_are_skipped_but_counted_in_row_numbers() -> None:
    errors = rejected(
        HEADER,
        "",
        GOOD,
        ",,,,,,,,",
        "   ",
        with_cell(GOOD.replace("ZP001", "ZP002"), "status", "ok"),
    )
    assert errors == [RowError(6, "status", errors[0].reason)]


def test_a_row_with_the_wrong_number_of_fields_is_named_by_row() -> None:
    errors = rejected(HEADER, GOOD, "ZP002,,1500", GOOD.replace("ZP001", "ZP003") + ",extra")
    assert [(e.row, e.column) for e in errors] == [(3, None), (4, None)]
    assert "3 fields" in errors[0].reason


def test_a_txn_id_twice_in_one_file_rejects_the_file_naming_both_rows() -> None:
    errors = rejected(HEADER, GOOD, GOOD.replace("ZP001", "ZP002"), GOOD.replace("50.000", "1"))
    assert errors == [RowError(4, "channel_txn_id", "channel_txn_id 'ZP001' also on row 2")]


def test_a_missing_required_column_is_a_file_level_error() -> None:
    header = HEADER.replace(",amount", "")
    errors = rejected(header, GOOD.replace(",50.000", ""))
    assert errors == [RowError(None, "amount", "missing column")]


def test_an_unknown_column_is_a_file_level_error_naming_it_as_written() -> None:
    errors = rejected(HEADER.replace("description", "Desciption"), GOOD)
    assert [(e.row, e.column) for e in errors] == [(None, "Desciption")]
    assert errors[0].reason.startswith(
        "unknown column 'Desciption' (the columns are channel_txn_id,"
    )


# --- business day ----------------------------------------------------------------------------


@pytest.mark.usefixtures("host_tz")
@pytest.mark.parametrize(
    ("paid_at", "day"),
    [
        ("2025-11-24T23:59:59+07:00", date(2025, 11, 24)),
        ("2025-11-25 00:00:00", date(2025, 11, 25)),
        ("2025-11-24T23:59:59", date(2025, 11, 24)),
        ("2025-11-24T17:00:00Z", date(2025, 11, 25)),
        ("2025-11-24T16:59:59+00:00", date(2025, 11, 24)),
    ],
)
def test_the_business_day_is_the_local_date_of_paid_at(paid_at: str, day: date) -> None:
    [line] = parse(HEADER, with_cell(GOOD, "paid_at", paid_at))
    assert line.business_day == day
    assert line.paid_at.tzinfo == UTC


# --- XLSX ------------------------------------------------------------------------------------


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for number, values in enumerate(rows, start=1):
        for column, value in enumerate(values, start=1):
            sheet.cell(row=number, column=column, value=value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def with_sheet_xml(data: bytes, edit: Callable[[str], str]) -> bytes:
    """The workbook with its first sheet's XML edited, e.g. to store a number as Excel may."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = edit(content.decode()).encode()
            target.writestr(item, content)
    return out.getvalue()


XLSX_HEADER = HEADER.split(",")
XLSX_ROW: list[Any] = [
    "ZP001",
    "ZP-H1725241125-0042",
    50000,
    0,
    "Payment",
    "success",
    datetime(2025, 11, 24, 23, 59, 59),  # a datetime cell: local time
    "Lệ phí hồ sơ H17.25-241125-0042",
    "0901234567",
]


@pytest.mark.parametrize("name", ["sao-ke.xlsx", "upload.bin"])
def test_an_xlsx_sheet_is_read_by_extension_or_signature(name: str) -> None:
    row2 = [20251124000002, None, 1500, None, "refund", "FAILED", "2025-11-25T00:00:00+07:00"]
    data = xlsx_bytes([XLSX_HEADER, XLSX_ROW, row2])
    first, second = parse_statement_file(name, data, channel="zalopay")
    assert (first.amount, first.fee, first.kind, first.payer) == (50000, 0, "payment", "*******567")
    assert first.paid_at == datetime(2025, 11, 24, 16, 59, 59, tzinfo=UTC)
    assert first.business_day == date(2025, 11, 24)
    assert first.raw["amount"] == "50000"
    assert first.raw["paid_at"] == "2025-11-24T23:59:59"
    assert (second.channel_txn_id, second.amount, second.status) == (
        "20251124000002",
        1500,
        "failed",
    )
    assert (second.order_ref, second.fee, second.business_day) == (None, 0, date(2025, 11, 25))


def test_a_whole_float_amount_from_excel_is_a_whole_number() -> None:
    data = with_sheet_xml(
        xlsx_bytes([XLSX_HEADER, XLSX_ROW]), lambda xml: xml.replace("<v>50000</v>", "<v>5E4</v>")
    )
    assert "5E4" in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    [line] = parse_statement_file("s.xlsx", data, channel="zalopay")
    assert line.amount == 50000
    assert type(line.amount) is int


def test_xlsx_errors_carry_the_sheet_row_numbers() -> None:
    rows = [
        XLSX_HEADER,
        XLSX_ROW,
        [],  # a blank sheet row still counts
        ["ZP002", None, 1500.5, None, "payment", "success", datetime(2025, 11, 24, 8, 0)],
        ["ZP003", None, 1500, -1, "payment", "success", datetime(2025, 11, 24, 8, 0)],
        ["ZP004", None, 1500, None, "payment", "success", "yesterday"],
    ]
    with pytest.raises(FileRejected) as caught:
        parse_statement_file("s.xlsx", xlsx_bytes(rows), channel="zalopay")
    assert [(e.row, e.column) for e in caught.value.errors] == [
        (4, "amount"),
        (5, "fee"),
        (6, "paid_at"),
    ]
    assert "not a whole number" in caught.value.errors[0].reason


def test_an_xlsx_header_only_sheet_is_an_empty_statement() -> None:
    assert parse_statement_file("s.xlsx", xlsx_bytes([XLSX_HEADER]), channel="zalopay") == []


def test_a_damaged_workbook_is_rejected_as_a_whole() -> None:
    data = xlsx_bytes([XLSX_HEADER, XLSX_ROW])[:300]
    with pytest.raises(FileRejected) as caught:
        parse_statement_file("s.xlsx", data, channel="zalopay")
    [error] = caught.value.errors
    assert (error.row, error.column) == (None, None)
    assert "XLSX" in error.reason


# --- a mapping of column names ---------------------------------------------------------------

RENAMING = {"channel_txn_id": "Mã giao dịch", "amount": "Số tiền", "paid_at": "Thời gian"}


def test_a_dict_mapping_renames_columns_and_ignores_the_others() -> None:
    header = "Mã giao dịch,Số tiền,kind,status,Thời gian,Chi nhánh,Ghi chú"
    [line] = parse(header, "ZP9,25.000,payment,success,2025-11-24 10:00:00,Q1,", mapping=RENAMING)
    assert (line.channel_txn_id, line.amount, line.status) == ("ZP9", 25_000, "success")
    assert line.raw["Chi nhánh"] == "Q1"
    errors = rejected(header, "ZP9,25.5,payment,success,2025-11-24,Q1,", mapping=RENAMING)
    assert errors == [RowError(2, "Số tiền", errors[0].reason)]


def test_a_dict_mapping_still_needs_the_required_columns() -> None:
    errors = rejected(
        "Mã giao dịch,kind,status,Thời gian", "ZP9,payment,success,x", mapping=RENAMING
    )
    assert errors == [RowError(None, "Số tiền", "missing column")]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"amout": "Số tiền"}, "unknown canonical columns amout"),
        ({"amount": " "}, "no file column name"),
        ({"amount": "Fee"}, "reads file column 'fee' as both amount and fee"),
        ({"order_ref": "Ghi chú", "description": "ghi chú"}, "as both order_ref and description"),
        ("momo-export", "shipped mappings: vnpay"),
    ],
)
def test_an_unusable_mapping_is_refused_before_the_file_is_read(
    mapping: str | dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        parse_statement_file("s.csv", b"\xff not even text", channel="x", mapping=mapping)


# --- the VNPay export ------------------------------------------------------------------------


def vnpay(*lines: str) -> list[StatementLine]:
    return parse(VNPAY_HEADER, *lines, mapping="vnpay")


def vnpay_rejected(*lines: str) -> list[RowError]:
    return rejected(VNPAY_HEADER, *lines, mapping="vnpay")


def vnpay_row(**cells: str) -> str:
    line = VNPAY_GOOD
    for column, value in cells.items():
        line = with_cell(line, column, value, VNPAY_HEADER)
    return line


def test_vnpay_is_a_shipped_mapping() -> None:
    assert "vnpay" in SHIPPED_MAPPINGS


def test_a_vnpay_row_becomes_a_line() -> None:
    [line] = vnpay(VNPAY_GOOD)
    assert line.channel_txn_id == "14687012"
    assert line.order_ref == "H1725241125004201"
    assert (line.amount, line.fee, line.kind, line.status) == (50_000, 0, "payment", "success")
    assert line.paid_at == datetime(2025, 11, 24, 2, 30, tzinfo=UTC)
    assert line.description == "Thanh toan le phi ho so H17.25-241125-0042"
    assert (line.raw["vnp_BankCode"], line.raw["vnp_CardType"]) == ("NCB", "ATM")
    assert (line.payer, line.dossier_hint, line.refund_of) == (None, None, None)


@pytest.mark.parametrize(
    ("response", "transaction", "status"),
    [
        ("00", "00", "success"),
        ("24", "00", "failed"),
        ("99", "00", "failed"),
        ("24", "02", "failed"),
        ("00", "02", "failed"),
        ("00", "01", "pending"),
        ("00", "04", "reversed"),
        ("00", "05", "pending"),
        ("00", "09", "failed"),
    ],
)
def test_vnpay_statuses(response: str, transaction: str, status: str) -> None:
    [line] = vnpay(vnpay_row(vnp_ResponseCode=response, vnp_TransactionStatus=transaction))
    assert line.status == status


@pytest.mark.parametrize(("code", "kind"), [("01", "payment"), ("02", "refund"), ("03", "refund")])
def test_vnpay_transaction_types(code: str, kind: str) -> None:
    [line] = vnpay(vnpay_row(vnp_TransactionType=code))
    assert line.kind == kind


def test_a_vnpay_export_without_transaction_types_holds_payments() -> None:
    header = VNPAY_HEADER.replace(",vnp_TransactionType", "")
    [line] = parse(header, VNPAY_GOOD.replace(",01,00,", ",00,"), mapping="vnpay")
    assert line.kind == "payment"


@pytest.mark.parametrize(
    ("cells", "column", "reason"),
    [
        ({"vnp_Amount": "5000050"}, "vnp_Amount", "not a multiple of 100"),
        ({"vnp_Amount": "50.000"}, "vnp_Amount", "not digits"),
        ({"vnp_Amount": "0"}, "vnp_Amount", "greater than 0"),
        ({"vnp_Amount": str(10**17 + 100)}, "vnp_Amount", "10^15"),
        ({"vnp_PayDate": "2025-11-24 09:30"}, "vnp_PayDate", "yyyyMMddHHmmss"),
        ({"vnp_PayDate": "20251324093000"}, "vnp_PayDate", "yyyyMMddHHmmss"),
        ({"vnp_TransactionStatus": "03"}, "vnp_TransactionStatus", "not a known VNPay status"),
        ({"vnp_TransactionStatus": ""}, "vnp_TransactionStatus", "required"),
        ({"vnp_TransactionType": "04"}, "vnp_TransactionType", "02 or 03"),
        ({"vnp_TransactionNo": ""}, "vnp_TransactionNo", "required"),
    ],
)
def test_a_bad_vnpay_cell_is_named_by_row_and_column(
    cells: dict[str, str], column: str, reason: str
) -> None:
    [error] = vnpay_rejected(VNPAY_GOOD.replace("14687012", "1"), vnpay_row(**cells))
    assert (error.row, error.column) == (3, column)
    assert reason in error.reason


def test_vnpay_attempts_that_never_reached_a_bank_each_keep_a_line_of_their_own() -> None:
    # VNPay writes vnp_TransactionNo 0 for every attempt refused before a bank (24: the payer
    # cancelled): one export holds several, and they must not read as one id twice
    cancelled = vnpay_row(vnp_TransactionNo="0", vnp_ResponseCode="24", vnp_TransactionStatus="02")
    retried = vnpay_row(
        vnp_TxnRef="H1725241125004202",
        vnp_TransactionNo="0",
        vnp_ResponseCode="24",
        vnp_TransactionStatus="02",
    )
    paid = vnpay_row(vnp_TxnRef="H1725241125004203")
    first, second, third = vnpay(cancelled, retried, paid)
    assert first.channel_txn_id == "0:01:H1725241125004201:20251124093000"
    assert second.channel_txn_id == "0:01:H1725241125004202:20251124093000"
    assert (first.status, second.status) == ("failed", "failed")
    assert first.raw["vnp_TransactionNo"] == "0"  # the export's own value stays in raw
    assert third.channel_txn_id == "14687012"
    # the same export again reads the same ids: a re-import is all duplicates
    assert [line.channel_txn_id for line in vnpay(cancelled, retried, paid)] == [
        first.channel_txn_id,
        second.channel_txn_id,
        third.channel_txn_id,
    ]


@pytest.mark.parametrize(
    ("cells", "column", "reason"),
    [
        ({"vnp_TransactionNo": "0"}, "vnp_TransactionNo", "0 (no bank transaction)"),
        (
            {"vnp_TransactionNo": "0", "vnp_TxnRef": "", "vnp_TransactionStatus": "02"},
            "vnp_TxnRef",
            "names the attempt",
        ),
    ],
)
def test_a_vnpay_row_numbered_0_must_be_an_unsuccessful_named_attempt(
    cells: dict[str, str], column: str, reason: str
) -> None:
    [error] = vnpay_rejected(vnpay_row(**cells))
    assert (error.row, error.column) == (2, column)
    assert reason in error.reason


def test_a_vnpay_export_saved_from_a_spreadsheet_has_numbers_for_codes() -> None:
    header = VNPAY_HEADER.split(",")
    paid, refunded = (
        [
            "H1725241125004201",
            5000000,
            "Thanh toan",
            0,
            14687012,
            1,
            0,
            "NCB",
            "ATM",
            20251124093000,
        ],
        [
            "H1725241125004201",
            5000000,
            "Hoan tien",
            0,
            14687544,
            2,
            0,
            "NCB",
            "ATM",
            20251124170305,
        ],
    )
    data = xlsx_bytes([header, paid, refunded])
    first, second = parse_statement_file("vnpay.xlsx", data, channel="vnpay", mapping="vnpay")
    assert (first.channel_txn_id, first.amount, first.kind, first.status) == (
        "14687012",
        50_000,
        "payment",
        "success",
    )
    assert (second.kind, second.status) == ("refund", "success")
    assert second.paid_at == datetime(2025, 11, 24, 10, 3, 5, tzinfo=UTC)


def test_vnpay_amounts_are_vnd_times_100() -> None:
    [line] = vnpay(vnpay_row(vnp_Amount="150000000"))
    assert line.amount == 1_500_000


def test_a_vnpay_transaction_number_twice_rejects_the_file() -> None:
    errors = vnpay_rejected(VNPAY_GOOD, VNPAY_GOOD)
    assert errors == [RowError(3, "vnp_TransactionNo", "channel_txn_id '14687012' also on row 2")]


def test_a_vnpay_export_missing_a_column_is_rejected() -> None:
    header = VNPAY_HEADER.replace("vnp_Amount,", "")
    errors = rejected(header, VNPAY_GOOD.replace("5000000,", ""), mapping="vnpay")
    assert errors == [RowError(None, "vnp_Amount", "missing column")]


# --- the sample files ------------------------------------------------------------------------


def test_the_canonical_sample_file() -> None:
    data = (STATEMENTS / "canonical_sample.csv").read_bytes()
    lines = parse_statement_file("canonical_sample.csv", data, channel="zalopay")
    assert len(lines) == 7
    assert {line.business_day for line in lines} == {date(2025, 11, 24)}
    assert [line.kind for line in lines].count("refund") == 1
    refund = next(line for line in lines if line.kind == "refund")
    paid = [line for line in lines if line.order_ref == refund.order_ref and line.kind == "payment"]
    assert [line.amount for line in paid] == [refund.amount]
    assert all(line.payer is None or line.payer.startswith("*******") for line in lines)
    assert "H17.25-221125-0097" in lines[1].description


def test_the_vnpay_sample_file() -> None:
    data = (STATEMENTS / "vnpay_sample.csv").read_bytes()
    lines = parse_statement_file("vnpay_sample.csv", data, channel="vnpay", mapping="vnpay")
    assert [(line.kind, line.status, line.amount) for line in lines] == [
        ("payment", "success", 8_000),
        ("payment", "success", 8_000),
        ("refund", "success", 8_000),
        ("payment", "failed", 2_000),
        ("payment", "success", 2_000),
        ("payment", "pending", 8_000),
        ("payment", "reversed", 15_000),
    ]
    assert lines[2].order_ref == lines[1].order_ref  # the refund names the payment it refunds
    assert lines[0].raw["vnp_TmnCode"] == "UBNDPX01"


# --- property: whatever valid rows are written come back ------------------------------------

ZONES: st.SearchStrategy[tzinfo | None] = st.sampled_from(
    [None, UTC, LOCAL_TZ, timezone(timedelta(hours=-5, minutes=-30))]
)
ROWS = st.fixed_dictionaries(
    {
        "id": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,40}", fullmatch=True),
        "amount": st.integers(min_value=1, max_value=10**15),
        "fee": st.integers(min_value=0, max_value=10**15),
        "grouping": st.sampled_from(["", ".", ",", " ", "\u00a0"]),
        "kind": st.sampled_from(LINE_KINDS),
        "status": st.sampled_from(LINE_STATUSES),
        "case": st.sampled_from([str.lower, str.upper, str.title]),
        "paid_at": st.datetimes(
            min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=ZONES
        ),
        "description": st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=40),
    }
)


def money(value: int, grouping: str) -> str:
    return f"{value:,}".replace(",", grouping) if grouping else str(value)


@settings(max_examples=75, deadline=None)
@given(
    rows=st.lists(ROWS, max_size=12, unique_by=lambda row: row["id"]),
    delimiter=st.sampled_from([",", ";"]),
    bom=st.booleans(),
)
def test_valid_rows_round_trip(rows: list[dict[str, Any]], delimiter: str, bom: bool) -> None:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(HEADER.split(","))
    for row in rows:
        writer.writerow(
            [
                row["id"],
                "",
                money(row["amount"], row["grouping"]),
                money(row["fee"], row["grouping"]),
                row["case"](row["kind"]),
                row["case"](row["status"]),
                row["paid_at"].isoformat(),
                row["description"],
                "",
            ]
        )
    data = (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode()
    lines = parse_statement_file("s.csv", data, channel="zalopay")
    assert [line.channel_txn_id for line in lines] == [row["id"] for row in rows]
    for line, row in zip(lines, rows, strict=True):
        assert type(line.amount) is int
        assert type(line.fee) is int
        assert (line.amount, line.fee) == (row["amount"], row["fee"])
        assert (line.kind, line.status) == (row["kind"], row["status"])
        moment = row["paid_at"]
        expected = moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TZ)
        assert line.paid_at == expected
        assert line.business_day == expected.astimezone(LOCAL_TZ).date()
        assert line.description == row["description"].strip()


# --- the fast reader of plainly good rows ------------------------------------------------------

CELLS = {
    "channel_txn_id": ["ZP001", " ZP002 ", "", "Z" * 128, "Z" * 129],
    "order_ref": ["", "MM1", " R-1 ", "R" * 129],
    "amount": ["50.000", "1500", "0", "-5", "1.5", "", " 75 000 ", "1e3", str(10**15 + 1)],
    "fee": ["", " ", "0", "1.100", "x", "-1"],
    "kind": ["payment", " Refund ", "SETTLEMENT", "gift", ""],
    "status": ["success", "FAILED", " pending", "done", ""],
    "paid_at": ["2025-11-24T09:30:00+07:00", "2025-11-24 23:59:59", "hôm qua", ""],
    "description": ["", " Lệ phí ", "x"],
    "payer": ["", "0901234567", " 091****678 ", "9" * 65],
}


@settings(max_examples=300, deadline=None)
@given(
    cells=st.fixed_dictionaries(
        {
            column: st.one_of(st.sampled_from(values), st.text(max_size=8))
            for column, values in CELLS.items()
        }
    ),
    columns=st.permutations(HEADER.split(",")),
)
def test_the_fast_reader_agrees_with_the_careful_one(
    cells: dict[str, str], columns: list[str]
) -> None:
    from adapters.file_mappings import _CANONICAL
    from adapters.file_rows import Row

    assert _CANONICAL.fast is not None
    row = [cells[column] for column in columns]
    fast = _CANONICAL.fast({column: i for i, column in enumerate(columns)})(row)
    careful = Row(2, dict(zip(columns, row, strict=True)), {})
    fields = _CANONICAL.convert(careful)
    if fast is not None:  # it takes only rows without a fault, and reads them the same
        assert careful.errors == []
        assert fast == fields
    else:
        assert careful.errors != []
