"""The ledger at the ends of the calendar (0001-01-01, 9999-12-31): rows of zeros in JSON, CSV
and XLSX, over the API and the CLI, never an internal error; and the CSV's content type."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import date
from typing import Any

import openpyxl
import pytest
from litestar.testing import AsyncTestClient

from recon.domain import each_day
from recon.ledger.exports import ledger_xlsx, parse_ledger_csv
from recon.ledger.schemas import Ledger, LedgerFigures, LedgerRow
from recon.settings import Settings
from tests.helpers import make_key
from tests.ledger.test_ledger import ZERO

CHANNELS = ["bank", "momo", "portal", "vnpay"]  # the test deployment's, in the ledger's order
ENDS = [("9999-12-31", "9999-12-31"), ("9999-12-30", "9999-12-31"), ("0001-01-01", "0001-01-02")]


@pytest.fixture
async def auth(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {await make_key(settings, 'ledger:read')}"}


def test_each_day_stops_at_the_end_of_the_calendar() -> None:
    assert list(each_day(date(9999, 12, 30), date(9999, 12, 31))) == [
        date(9999, 12, 30),
        date(9999, 12, 31),
    ]
    assert list(each_day(date(1, 1, 1), date(1, 1, 1))) == [date(1, 1, 1)]
    assert list(each_day(date(2025, 1, 2), date(2025, 1, 1))) == []


def test_an_xlsx_before_1900_writes_its_days_as_text() -> None:
    """A spreadsheet has no date before 1900: such a day is written as dd/mm/yyyy text."""
    ledger = Ledger(
        from_=date(1, 1, 1),
        to=date(1, 1, 1),
        rows=[LedgerRow(date=date(1, 1, 1), channel="momo")],
        totals={"momo": LedgerFigures(), "all": LedgerFigures()},
    )
    sheet = openpyxl.load_workbook(io.BytesIO(ledger_xlsx(ledger, ward_name="W"))).worksheets[0]
    assert sheet.cell(row=4, column=1).value == "01/01/0001"
    assert "từ 01/01/0001 đến 01/01/0001" in str(sheet.cell(row=1, column=1).value)


@pytest.mark.parametrize(("start", "end"), ENDS)
async def test_the_api_answers_rows_of_zeros_at_the_ends_of_the_calendar(
    client: AsyncTestClient[Any], auth: dict[str, str], start: str, end: str
) -> None:
    params = {"from": start, "to": end}
    response = await client.get("/api/v1/ledger", params=params, headers=auth)
    assert response.status_code == 200, response.text
    data = response.json()
    days = [d.isoformat() for d in each_day(date.fromisoformat(start), date.fromisoformat(end))]
    assert [(row["date"], row["channel"]) for row in data["rows"]] == [
        (day, channel) for day in days for channel in CHANNELS
    ]
    assert all({k: row[k] for k in ZERO} == ZERO for row in data["rows"])
    assert data["totals"]["all"] == ZERO

    as_csv = await client.get("/api/v1/ledger", params={**params, "format": "csv"}, headers=auth)
    assert as_csv.status_code == 200, as_csv.text
    assert parse_ledger_csv(as_csv.content)["rows"] == data["rows"]
    as_xlsx = await client.get("/api/v1/ledger", params={**params, "format": "xlsx"}, headers=auth)
    assert as_xlsx.status_code == 200, as_xlsx.text
    openpyxl.load_workbook(io.BytesIO(as_xlsx.content))


async def test_the_csv_content_type_names_its_charset_once(
    client: AsyncTestClient[Any], auth: dict[str, str]
) -> None:
    params = {"from": "2025-11-24", "to": "2025-11-24", "format": "csv"}
    response = await client.get("/api/v1/ledger", params=params, headers=auth)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx"])
def test_the_cli_ledger_at_the_end_of_the_calendar(
    run_cli: Callable[..., Any], fmt: str, tmp_path: Any
) -> None:
    out = tmp_path / f"ledger.{fmt}"
    args = ("--from", "9999-12-30", "--to", "9999-12-31", "--format", fmt, "--output", str(out))
    result = run_cli("ledger", *args)
    assert result.code == 0, result
    assert result.err == ""
    if fmt == "json":
        data = json.loads(out.read_text(encoding="utf-8"))
        assert [row["date"] for row in data["rows"]] == ["9999-12-30"] * 4 + ["9999-12-31"] * 4
    elif fmt == "csv":
        assert len(parse_ledger_csv(out.read_bytes())["rows"]) == 8
    else:
        openpyxl.load_workbook(out)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "9999-12-31", "to": "0001-01-01"}, "to"),
        ({"from": "0001-01-01", "to": "9999-12-31"}, "to"),
        ({"from": "10000-01-01", "to": "9999-12-31"}, "from"),
        ({"from": "9999-12-31", "to": "9999-12-32"}, "to"),
        ({"to": "9999-12-31"}, "from"),
    ],
)
async def test_a_bad_range_is_422_naming_the_query_parameter(
    client: AsyncTestClient[Any], auth: dict[str, str], params: dict[str, str], field: str
) -> None:
    response = await client.get("/api/v1/ledger", params=params, headers=auth)
    assert response.status_code == 422, response.text
    body = response.json()
    assert [e["field"] for e in body["errors"]] == [field]
    assert "--" not in response.text  # API words, never the CLI's options
