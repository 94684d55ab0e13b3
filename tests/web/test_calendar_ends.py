"""The ledger page, its chart and its downloads at the ends of the calendar: shown with zeros,
never an internal error (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import date
from typing import Any

import openpyxl
import pytest
from litestar.testing import AsyncTestClient

from recon.ledger.exports import parse_ledger_csv
from recon.ledger.schemas import Ledger, LedgerFigures, LedgerRow
from recon.web.chart import ledger_chart
from tests.web.test_ledger_page import PAGE, reader, text_of, viewer

__all__ = ["reader", "viewer"]

ENDS = [
    {"tu": "9999-12-31", "den": "9999-12-31"},
    {"tu": "30/12/9999", "den": "31/12/9999"},
    {"tu": "0001-01-01", "den": "0001-01-01"},
]


@pytest.mark.parametrize("day", [date(1, 1, 1), date(9999, 12, 31)])
def test_the_chart_draws_the_last_and_the_first_day(day: date) -> None:
    ledger = Ledger(
        from_=day,
        to=day,
        rows=[LedgerRow(date=day, channel="momo", payments_count=1, payments_amount=5)],
        totals={"momo": LedgerFigures(), "all": LedgerFigures()},
    )
    root = ET.fromstring(ledger_chart(ledger))
    days = root.findall(".//{http://www.w3.org/2000/svg}g[@class='day']")
    assert [g.get("data-date") for g in days] == [day.isoformat()]


@pytest.mark.parametrize("params", ENDS)
async def test_the_page_and_its_downloads_at_the_ends_of_the_calendar(
    reader: tuple[str, str], client: AsyncTestClient[Any], params: dict[str, str]
) -> None:
    response = await client.get(PAGE, params=params)
    assert response.status_code == 200, response.text
    assert "Không xem được" not in text_of(response.text)
    csv_response = await client.get(f"{PAGE}/tai-ve", params={**params, "dinh_dang": "csv"})
    assert csv_response.status_code == 200, csv_response.text
    assert csv_response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = parse_ledger_csv(csv_response.content)["rows"]
    assert rows
    assert all(row["payments_count"] == 0 for row in rows)
    xlsx = await client.get(f"{PAGE}/tai-ve", params={**params, "dinh_dang": "xlsx"})
    assert xlsx.status_code == 200, xlsx.text
    openpyxl.load_workbook(io.BytesIO(xlsx.content))


async def test_a_day_past_the_calendar_is_a_400_page(
    reader: tuple[str, str], client: AsyncTestClient[Any]
) -> None:
    response = await client.get(PAGE, params={"tu": "31/12/9999", "den": "01/01/10000"})
    assert response.status_code == 400
    assert "không phải là một ngày hợp lệ" in text_of(response.text)
