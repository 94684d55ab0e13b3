"""Reading dossier files: CSV (BOM, `,` or `;`) and JSON, rows and columns named (DESIGN 2.4/2.5)."""

from __future__ import annotations

import io
from collections.abc import Collection
from datetime import UTC, datetime

import pytest

from recon.dossiers.parsing import Batch, record_batches
from recon.rows import FileRejected, RowError


def records_from_file(name: str, data: bytes, *, channels: Collection[str]) -> Batch:
    """Every row of a dossier file at once: the valid records and the faults of the others."""
    records, errors = [], []
    for found, faults in record_batches(name, io.BytesIO(data), channels=channels):
        records.extend(found)
        errors.extend(faults)
    return records, errors


def records_from_csv(data: bytes, *, channels: Collection[str]) -> Batch:
    return records_from_file("dossiers.csv", data, channels=channels)


def records_from_json(data: bytes, *, channels: Collection[str]) -> Batch:
    return records_from_file("dossiers.json", data, channels=channels)


CHANNELS = {"momo", "portal", "bank"}
HEADER = "dossier_code,procedure_code,procedure_name,applicant,fee_amount,state,submitted_at,payment_refs"
GOOD = "H17.25-241125-0042,1.001612,Chứng thực bản sao,Nguyễn Văn An,1.500,received,2025-11-24T09:30:00+07:00,MM1|MM2"


def csv_bytes(*lines: str, delimiter: str = ",", bom: bool = False) -> bytes:
    text = "\n".join(line.replace(",", delimiter) for line in lines) + "\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


@pytest.mark.parametrize("bom", [False, True])
@pytest.mark.parametrize("delimiter", [",", ";"])
def test_a_good_csv_row_becomes_a_record(delimiter: str, bom: bool) -> None:
    records, errors = records_from_csv(
        csv_bytes(HEADER, GOOD, delimiter=delimiter, bom=bom), channels=CHANNELS
    )
    assert errors == []
    [(row, record)] = records
    assert row == 2
    assert record.dossier_code == "H17.25-241125-0042"
    assert record.code_key == "H17252411250042"
    assert record.fee_amount == 1500
    assert record.state == "received"
    assert record.submitted_at == datetime(2025, 11, 24, 2, 30, tzinfo=UTC)
    assert record.payment_refs == ("MM1", "MM2")
    assert record.applicant == "Nguyễn Văn An"


def test_a_time_without_offset_is_local_time() -> None:
    line = GOOD.replace("2025-11-24T09:30:00+07:00", "2025-11-24 00:00:00")
    [(_, record)] = records_from_csv(csv_bytes(HEADER, line), channels=CHANNELS)[0]
    assert record.submitted_at == datetime(2025, 11, 23, 17, 0, tzinfo=UTC)


def test_enum_values_are_case_insensitive() -> None:
    [(_, record)] = records_from_csv(
        csv_bytes(HEADER, GOOD.replace("received", "Processing")), channels=CHANNELS
    )[0]
    assert record.state == "processing"


def test_row_numbers_count_the_header_and_blank_lines() -> None:
    bad = GOOD.replace("1.500", "1.5")
    data = csv_bytes(HEADER, GOOD, "", ",,,,,,,", bad.replace("0042", "0043"))
    records, errors = records_from_csv(data, channels=CHANNELS)
    assert [row for row, _ in records] == [2]
    assert errors == [RowError(5, "fee_amount", errors[0].reason)]
    assert "not a whole number" in errors[0].reason


def test_a_quoted_cell_with_a_newline_is_one_spreadsheet_row() -> None:
    multi = GOOD.replace("Nguyễn Văn An", '"Nguyễn\nVăn An"')
    bad = GOOD.replace("received", "lost").replace("0042", "0044")
    records, errors = records_from_csv(csv_bytes(HEADER, multi, bad), channels=CHANNELS)
    assert records[0][1].applicant == "Nguyễn\nVăn An"
    assert [(e.row, e.column) for e in errors] == [(3, "state")]


def test_every_fault_of_a_row_is_reported() -> None:
    bad = "H1,,n,a,-3,open,yesterday,"
    _, errors = records_from_csv(csv_bytes(HEADER, bad), channels=CHANNELS)
    assert {(e.row, e.column) for e in errors} == {
        (2, "fee_amount"),
        (2, "submitted_at"),
        (2, "procedure_code"),
        (2, "state"),
    }


@pytest.mark.parametrize(
    ("header", "column", "reason"),
    [
        (HEADER.replace(",payment_refs", ""), "payment_refs", "missing column"),
        (HEADER + ",notes", "notes", "unknown column 'notes'"),
        (HEADER + ",state", "state", "column appears twice in the header"),
    ],
)
def test_a_bad_header_rejects_the_file_with_row_null(header: str, column: str, reason: str) -> None:
    with pytest.raises(FileRejected) as caught:
        records_from_csv(csv_bytes(header, GOOD), channels=CHANNELS)
    assert RowError(None, column, reason) in caught.value.errors


def test_a_file_that_is_not_utf8_is_rejected_whole() -> None:
    data = csv_bytes(HEADER) + GOOD.encode("cp1258", errors="replace")
    with pytest.raises(FileRejected) as caught:
        records_from_csv(data, channels=CHANNELS)
    [error] = caught.value.errors
    assert error.row is None
    assert "not UTF-8" in error.reason


def test_an_empty_file_is_rejected() -> None:
    with pytest.raises(FileRejected, match="empty"):
        records_from_csv(b"", channels=CHANNELS)


def test_a_row_with_too_few_fields_is_named() -> None:
    _, errors = records_from_csv(csv_bytes(HEADER, "H1,P,n"), channels=CHANNELS)
    assert errors == [RowError(2, None, "row has 3 fields, the header has 8")]


def test_claims_need_both_channel_and_time_and_a_known_channel() -> None:
    header = HEADER + ",claimed_paid_channel,claimed_paid_at,claimed_channel_txn_id"
    rows = [
        GOOD + ",momo,2025-11-24T10:00:00+07:00,3100001",
        GOOD.replace("0042", "0043").replace("MM1|MM2", "") + ",momo,,",
        GOOD.replace("0042", "0044").replace("MM1|MM2", "") + ",paypal,2025-11-24T10:00:00+07:00,",
        GOOD.replace("0042", "0045").replace("MM1|MM2", "") + ",,,3100002",
    ]
    records, errors = records_from_csv(csv_bytes(header, *rows), channels=CHANNELS)
    [(_, claimed)] = records
    assert claimed.claimed_paid_channel == "momo"
    assert claimed.claimed_channel_txn_id == "3100001"
    assert [(e.row, e.column) for e in errors] == [
        (3, "claimed_paid_at"),
        (4, "claimed_paid_channel"),
        (5, "claimed_channel_txn_id"),
    ]


def test_json_rows_are_positions_in_the_array_and_money_is_a_json_integer() -> None:
    good = (
        '{"dossier_code": "H1", "procedure_code": "P", "fee_amount": 1500, "state": "received",'
        ' "submitted_at": "2025-11-24T09:30:00+07:00", "payment_refs": ["A", "B"]}'
    )
    as_string = good.replace("1500", '"1500"').replace("H1", "H2")
    as_float = good.replace("1500", "1500.0").replace("H1", "H3")
    negative = good.replace("1500", "-1").replace("H1", "H4")
    unknown = good.replace('"state"', '"colour": 1, "state"').replace("H1", "H5")
    data = f"[{good}, {as_string}, {as_float}, {negative}, {unknown}]".encode()
    records, errors = records_from_json(data, channels=CHANNELS)
    assert [(row, r.payment_refs) for row, r in records] == [(1, ("A", "B"))]
    assert [(e.row, e.column) for e in errors] == [
        (2, "fee_amount"),
        (3, "fee_amount"),
        (4, "fee_amount"),
        (5, "colour"),
    ]
    assert "JSON integer" in errors[0].reason
    assert "str" in errors[0].reason
    assert "float" in errors[1].reason
    assert errors[3].reason == "unknown field"


@pytest.mark.parametrize("data", [b"{}", b"[1, 2", b"not json"])
def test_a_json_file_that_is_not_an_array_is_rejected(data: bytes) -> None:
    with pytest.raises(FileRejected):
        records_from_file("dossiers.json", data, channels=CHANNELS)


def test_the_format_follows_the_extension() -> None:
    records, _ = records_from_file("d.CSV", csv_bytes(HEADER, GOOD), channels=CHANNELS)
    assert len(records) == 1


def test_a_header_of_endless_columns_is_a_bounded_report() -> None:
    from recon.rows import MAX_HEADER_ERRORS

    wide = HEADER + "," + ",".join(["state"] * 50_000 + [f"x{n}" for n in range(500)])
    with pytest.raises(FileRejected) as caught:
        records_from_csv((wide + "\n").encode(), channels=())
    errors = caught.value.errors
    assert len(errors) == MAX_HEADER_ERRORS + 1
    assert errors[0].reason == "column appears twice in the header"
    assert sum(e.column == "state" for e in errors) == 1
    assert errors[-1].reason == "and 401 more faults in the header"
