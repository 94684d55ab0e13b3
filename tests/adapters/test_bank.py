"""Bank-statement aggregator adapter (DESIGN 2.3) against recorded pages replayed by respx."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import respx

from adapters.bank import BankAdapter
from adapters.base import (
    ControlTotalsMismatch,
    RetryPolicy,
    StatementFormatError,
)
from recon.domain import ControlTotals, StatementLine
from tests.adapters.conftest import (
    BANK_API_KEY,
    BANK_BASE_URL,
    recorded,
    recorded_bytes,
)

pytestmark = pytest.mark.respx(base_url=BANK_BASE_URL)

DAY = date(2024, 11, 25)
TRANSACTIONS = "/v2/transactions"
MOMO_SETTLEMENT_ACCOUNT = "0011004455667"


def _day_pages(day: str = "2024-11-25") -> list[dict[str, Any]]:
    pages = []
    for number in itertools.count(1):
        try:
            pages.append(recorded("bank", f"transactions-{day}-page{number}.json"))
        except FileNotFoundError:
            return pages
    raise AssertionError("unreachable")


def bank_server(pages: list[dict[str, Any]]) -> Callable[[httpx.Request], httpx.Response]:
    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[int(request.url.params["page"]) - 1])

    return serve


def _adapter(client: httpx.AsyncClient, policy: RetryPolicy) -> BankAdapter:
    return BankAdapter(
        client,
        base_url=BANK_BASE_URL,
        api_key=BANK_API_KEY,
        settlement_accounts=[MOMO_SETTLEMENT_ACCOUNT],
        retry_policy=policy,
    )


async def test_happy_path_pages_until_next_page_is_null(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    route = respx_mock.get(TRANSACTIONS).mock(
        side_effect=[
            httpx.Response(200, content=recorded_bytes("bank", f"transactions-{DAY}-page{n}.json"))
            for n in (1, 2)
        ]
    )
    statement = await _adapter(http_client, retry_policy).fetch_day(DAY)

    assert route.call_count == 2
    for number, call in enumerate(route.calls, start=1):
        assert call.request.url.raw_path.decode() == (
            f"/v2/transactions?fromDate=2024-11-25&toDate=2024-11-25&page={number}"
            "&pageSize=500&sort=ASC"
        )
        assert call.request.headers["Authorization"] == "Apikey test-bank-api-key"

    # totalRecords counts the outgoing record too; the check compares counts only.
    assert statement.control == ControlTotals(count=5, amount=None)
    assert [line.channel_txn_id for line in statement.lines] == [
        "88120341",
        "88120343",
        "88120344",
        "88120345",
    ]
    first_raw = recorded("bank", f"transactions-{DAY}-page1.json")["data"]["records"][0]
    assert statement.lines[0] == StatementLine(
        channel="bank",
        channel_txn_id="88120341",
        amount=50000,
        fee=0,
        kind="payment",
        status="success",
        paid_at=datetime(2024, 11, 25, 1, 31, 45, tzinfo=UTC),
        business_day=DAY,
        order_ref=None,
        description="MBVCB.7412345678.H1725241125 0042.CHUYEN TIEN LE PHI",
        payer="**********012",
        raw={**first_raw, "corresponsiveAccount": "**********012"},
    )
    assert statement.lines[0].raw["corresponsiveName"] == "NGUYEN VAN AN"
    settlement = statement.lines[1]
    assert (settlement.kind, settlement.amount) == ("settlement", 3450000)
    assert {line.status for line in statement.lines} == {"success"}
    assert "0123456789012" not in repr(statement)


async def test_an_empty_day_is_one_page(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    body = recorded_bytes("bank", "transactions-2024-11-27-page1.json")
    route = respx_mock.get(TRANSACTIONS).mock(return_value=httpx.Response(200, content=body))
    statement = await _adapter(http_client, retry_policy).fetch_day(date(2024, 11, 27))
    assert route.call_count == 1
    assert statement.lines == []
    assert statement.control == ControlTotals(count=0)


async def test_error_field_with_http_200_is_a_format_error(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    route = respx_mock.get(TRANSACTIONS).mock(
        return_value=httpx.Response(
            200, json={"error": 5, "message": "Khoảng thời gian không hợp lệ", "data": None}
        )
    )
    with pytest.raises(StatementFormatError, match="error 5: Khoảng thời gian không hợp lệ"):
        await _adapter(http_client, retry_policy).fetch_day(DAY)
    assert route.call_count == 1


async def test_wrong_record_count_raises_control_totals_mismatch(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    pages = _day_pages()
    pages[-1]["data"]["totalRecords"] = 6
    respx_mock.get(TRANSACTIONS).mock(side_effect=bank_server(pages))
    with pytest.raises(ControlTotalsMismatch) as caught:
        await _adapter(http_client, retry_policy).fetch_day(DAY)
    error = caught.value
    assert (error.expected_count, error.expected_amount) == (6, None)
    assert (error.received_count, error.received_amount) == (5, None)


async def test_the_same_record_on_two_pages_is_counted_once(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    pages = _day_pages()
    pages[1]["data"]["records"].insert(0, pages[0]["data"]["records"][2])
    pages[1]["data"]["records"].insert(0, pages[0]["data"]["records"][1])  # outgoing, again
    respx_mock.get(TRANSACTIONS).mock(side_effect=bank_server(pages))
    statement = await _adapter(http_client, retry_policy).fetch_day(DAY)
    assert [line.channel_txn_id for line in statement.lines] == [
        "88120341",
        "88120343",
        "88120344",
        "88120345",
    ]


async def test_a_next_page_pointing_back_is_refused_instead_of_looping(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    page = recorded("bank", "transactions-2024-11-27-page1.json")
    page["data"]["nextPage"] = 1
    respx_mock.get(TRANSACTIONS).mock(return_value=httpx.Response(200, json=page))
    with pytest.raises(StatementFormatError, match="points back"):
        await _adapter(http_client, retry_policy).fetch_day(date(2024, 11, 27))
