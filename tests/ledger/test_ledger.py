"""The daily ledger against a hand-computed ward, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from recon.ledger.exports import parse_ledger_csv

D1, D2 = "2025-11-24", "2025-11-25"
DOSSIERS = "dossier_code,procedure_code,procedure_name,applicant,fee_amount,state,submitted_at,payment_refs"
LINES = "channel_txn_id,order_ref,amount,fee,kind,status,paid_at,description,payer"
ZERO = {
    "payments_count": 0,
    "payments_amount": 0,
    "refunds_count": 0,
    "refunds_amount": 0,
    "fees": 0,
    "net": 0,
    "matched_count": 0,
    "matched_amount": 0,
    "unmatched_count": 0,
    "unmatched_amount": 0,
    "open_cases": {},
}


def write(tmp_path: Path, name: str, header: str, *rows: str) -> str:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture
def ward(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    assert (
        run_cli(
            "dossiers",
            "import",
            write(
                tmp_path,
                "d.csv",
                DOSSIERS,
                "H17.25-241125-0001,1.001612,Chứng thực,Nguyễn Văn An,15.000,received,2025-11-24T08:00:00+07:00,MMA",
                "H17.25-241125-0002,1.004873,Xác nhận,Trần Thị Bình,30.000,received,2025-11-24T08:10:00+07:00,",
            ),
        ).code
        == 0
    )
    assert (
        run_cli(
            "statements",
            "import",
            "--channel",
            "momo",
            write(
                tmp_path,
                "momo.csv",
                LINES,
                f"M1,MMA,15.000,300,payment,success,{D1}T09:00:00+07:00,Thanh toan,0901234567",
                f"M2,ZZZ,5.000,100,payment,success,{D1}T10:00:00+07:00,Chuyen tien,",
                f"M3,MMA,7.000,0,payment,failed,{D1}T10:30:00+07:00,That bai,",
                f"M4,MMA,2.000,0,refund,success,{D1}T11:00:00+07:00,Hoan tien,",
            ),
        ).code
        == 0
    )
    assert (
        run_cli(
            "statements",
            "import",
            "--channel",
            "vnpay",
            write(
                tmp_path,
                "vnpay.csv",
                LINES,
                f"V1,,20.000,0,payment,success,{D1}T09:00:00+07:00,HS H17.25-241125-0002,",
                f"V2,,9.000,0,payment,pending,{D1}T12:00:00+07:00,Dang xu ly,",
                f"V3,,10.000,0,payment,success,{D2}T09:00:00+07:00,HS H17.25-241125-0002,",
                f"V4,,100.000,0,settlement,success,{D2}T15:00:00+07:00,Quyet toan,",
            ),
        ).code
        == 0
    )
    for day in (D1, D2):
        assert run_cli("reconcile", "--date", day, "--no-pull").code == 0


def ledger(run_cli: Callable[..., Any], *args: str) -> dict[str, Any]:
    result = run_cli("ledger", *args)
    assert result.code == 0, result
    data: dict[str, Any] = json.loads(result.out)
    return data


def row(data: dict[str, Any], day: str, channel: str) -> dict[str, Any]:
    [found] = [r for r in data["rows"] if (r["date"], r["channel"]) == (day, channel)]
    return {k: v for k, v in found.items() if k not in ("date", "channel", "closed")}


MOMO_D1 = {
    "payments_count": 2,
    "payments_amount": 20_000,
    "refunds_count": 1,
    "refunds_amount": 2_000,
    "fees": 400,
    "net": 17_600,
    "matched_count": 1,
    "matched_amount": 15_000,
    "unmatched_count": 1,
    "unmatched_amount": 5_000,
    "open_cases": {"UNDERPAID": 1, "UNMATCHED_PAYMENT": 1},
}
VNPAY_D1 = {
    **ZERO,
    "payments_count": 1,
    "payments_amount": 20_000,
    "net": 20_000,
    "matched_count": 1,
    "matched_amount": 20_000,
    "open_cases": {"STATUS_CONFLICT": 1},
}
VNPAY_D2 = {
    **ZERO,
    "payments_count": 1,
    "payments_amount": 10_000,
    "net": 10_000,
    "matched_count": 1,
    "matched_amount": 10_000,
}


def test_every_field_of_every_row(run_cli: Callable[..., Any], ward: None) -> None:
    data = ledger(run_cli, "--from", D1, "--to", D2)
    assert (data["from"], data["to"]) == (D1, D2)
    assert [(r["date"], r["channel"]) for r in data["rows"]] == [
        (day, channel) for day in (D1, D2) for channel in ("bank", "momo", "portal", "vnpay")
    ]
    assert row(data, D1, "momo") == MOMO_D1
    assert row(data, D1, "vnpay") == VNPAY_D1
    assert row(data, D2, "vnpay") == VNPAY_D2
    for day, channel in [(D1, "bank"), (D1, "portal"), (D2, "bank"), (D2, "portal"), (D2, "momo")]:
        assert row(data, day, channel) == ZERO
    assert data["totals"]["momo"] == MOMO_D1
    assert data["totals"]["vnpay"]["payments_amount"] == 30_000
    assert data["totals"]["all"]["payments_count"] == 4
    assert data["totals"]["all"]["net"] == 17_600 + 30_000
    assert data["totals"]["all"]["open_cases"] == {
        "STATUS_CONFLICT": 1,
        "UNDERPAID": 1,
        "UNMATCHED_PAYMENT": 1,
    }


def test_a_range_total_is_the_sum_of_its_days(run_cli: Callable[..., Any], ward: None) -> None:
    whole = ledger(run_cli, "--from", D1, "--to", D2)["totals"]["all"]
    first = ledger(run_cli, "--from", D1, "--to", D1)["totals"]["all"]
    second = ledger(run_cli, "--from", D2, "--to", D2)["totals"]["all"]
    for field, value in whole.items():
        if field != "open_cases":
            assert value == first[field] + second[field], field


def test_channel_restricts_rows_and_totals(run_cli: Callable[..., Any], ward: None) -> None:
    data = ledger(run_cli, "--from", D1, "--to", D2, "--channel", "vnpay")
    assert {r["channel"] for r in data["rows"]} == {"vnpay"}
    assert set(data["totals"]) == {"vnpay", "all"}
    assert data["totals"]["all"] == data["totals"]["vnpay"]


def test_the_csv_parsed_back_equals_the_json(
    run_cli: Callable[..., Any], ward: None, tmp_path: Path
) -> None:
    as_json = ledger(run_cli, "--from", D1, "--to", D2)
    out = tmp_path / "so.csv"
    assert (
        run_cli("ledger", "--from", D1, "--to", D2, "--format", "csv", "--output", str(out)).code
        == 0
    )
    parsed = parse_ledger_csv(out.read_bytes())
    assert parsed["rows"] == as_json["rows"]
    assert parsed["totals"] == as_json["totals"]


def test_the_xlsx_holds_numbers_and_the_totals(
    run_cli: Callable[..., Any], ward: None, tmp_path: Path
) -> None:
    out = tmp_path / "so.xlsx"
    assert (
        run_cli("ledger", "--from", D1, "--to", D2, "--format", "xlsx", "--output", str(out)).code
        == 0
    )
    sheet = openpyxl.load_workbook(io.BytesIO(out.read_bytes())).worksheets[0]
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert "UBND phường Thử Nghiệm" in values[0][0]
    total = next(r for r in values if r[0] == "Tổng cộng")
    assert 17_600 + 30_000 in total
    assert all(isinstance(v, int) for v in total[2:12])


def test_a_payment_that_no_longer_resolves_moves_to_unmatched_on_the_re_run(
    run_cli: Callable[..., Any], ward: None, tmp_path: Path
) -> None:
    assert row(ledger(run_cli, "--from", D1, "--to", D1), D1, "momo") == MOMO_D1
    # dossier 0001 loses the payment ref MMA, by which M1 (15,000) was matched
    changed = write(
        tmp_path,
        "changed.csv",
        DOSSIERS,
        "H17.25-241125-0001,1.001612,Chứng thực,Nguyễn Văn An,15.000,received,2025-11-24T08:00:00+07:00,",
    )
    assert run_cli("dossiers", "import", changed).code == 0
    assert run_cli("reconcile", "--date", D1, "--no-pull").code == 0
    figures = row(ledger(run_cli, "--from", D1, "--to", D1), D1, "momo")
    assert {k: v for k, v in figures.items() if k != "open_cases"} == {
        **{k: v for k, v in MOMO_D1.items() if k != "open_cases"},
        "matched_count": 0,
        "matched_amount": 0,
        "unmatched_count": 2,
        "unmatched_amount": 20_000,
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", D2, "--to", D1), "before --from"),
        (("--from", "24/11/2025", "--to", D1), "--from: '24/11/2025' is not a date"),
        (("--from", D1, "--to", D1, "--channel", "paypal"), "unknown channel 'paypal'"),
        (("--from", D1, "--to", D1, "--format", "pdf"), "--format: 'pdf'"),
    ],
)
def test_bad_ledger_requests(
    run_cli: Callable[..., Any], args: tuple[str, ...], message: str
) -> None:
    result = run_cli("ledger", *args)
    assert result.code == 2
    assert message in result.err
