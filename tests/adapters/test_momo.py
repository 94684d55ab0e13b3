"""MoMo adapter (DESIGN 2.1) against recorded, signed statement pages replayed by respx."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import respx

from adapters.base import (
    ChannelAuthError,
    ControlTotalsMismatch,
    RetryPolicy,
    StatementFormatError,
)
from adapters.momo import status_of
from recon.domain import ControlTotals, StatementLine
from tests.adapters.conftest import (
    FOUR_RETRY_DELAYS,
    FOUR_TRANSIENT_FAILURES,
    MOMO_ACCESS_KEY,
    MOMO_BASE_URL,
    MOMO_SECRET_KEY,
    RECORDED,
    SleepRecorder,
    failing_then,
    momo_adapter,
    recorded,
    recorded_bytes,
)

pytestmark = pytest.mark.respx(base_url=MOMO_BASE_URL)

DAY = date(2024, 11, 25)
STATEMENT = "/v2/gateway/api/statement"
RECORDED_REQUEST_IDS = [
    "3f9a1c2e8b7d4e6fa0b1c2d3e4f50601",
    "3f9a1c2e8b7d4e6fa0b1c2d3e4f50602",
    "3f9a1c2e8b7d4e6fa0b1c2d3e4f50603",
]


def _sign(message: str) -> str:
    return hmac.new(MOMO_SECRET_KEY.encode(), message.encode(), hashlib.sha256).hexdigest()


def _signed_answer(page: dict[str, Any]) -> dict[str, Any]:
    """What a MoMo server signs: accessKey, date, page, partnerCode, requestId, resultCode,
    totalAmount, totalCount, totalPages, in that order."""
    keys = [
        "date",
        "page",
        "partnerCode",
        "requestId",
        "resultCode",
        "totalAmount",
        "totalCount",
        "totalPages",
    ]
    message = f"accessKey={MOMO_ACCESS_KEY}&" + "&".join(f"{k}={page[k]}" for k in keys)
    return {**page, "signature": _sign(message)}


def _day_pages(day: str = "2024-11-25") -> dict[int, dict[str, Any]]:
    pages = {}
    for number in itertools.count(1):
        try:
            pages[number] = recorded("momo", f"statement-{day}-page{number}.json")
        except FileNotFoundError:
            return pages
    raise AssertionError("unreachable")


def momo_server(pages: dict[int, dict[str, Any]]) -> Callable[[httpx.Request], httpx.Response]:
    """Answers each request with its page, echoing the requestId and signing afresh."""

    def serve(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        page = {**pages[sent["page"]], "requestId": sent["requestId"], "page": sent["page"]}
        return httpx.Response(200, json=_signed_answer(page))

    return serve


def _paid_at(local: str) -> datetime:
    return datetime.fromisoformat(local + "+07:00").astimezone(UTC)


async def test_happy_path_replays_every_recorded_page_with_signed_requests(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    route = respx_mock.post(STATEMENT).mock(
        side_effect=[
            httpx.Response(200, content=recorded_bytes("momo", f"statement-{DAY}-page{n}.json"))
            for n in (1, 2, 3)
        ]
    )
    adapter = momo_adapter(http_client, retry_policy, RECORDED_REQUEST_IDS)
    statement = await adapter.fetch_day(DAY)

    # The server capped pages at 3 lines though 500 were asked: paging went on to totalPages.
    assert route.call_count == 3
    for number, call in enumerate(route.calls, start=1):
        body = json.loads(call.request.content)
        request_id = RECORDED_REQUEST_IDS[number - 1]
        assert body == {
            "partnerCode": "MOMOXYZ",
            "requestId": request_id,
            "date": "2024-11-25",
            "page": number,
            "pageSize": 500,
            "lang": "vi",
            "signature": _sign(
                f"accessKey={MOMO_ACCESS_KEY}&date=2024-11-25&page={number}&pageSize=500"
                f"&partnerCode=MOMOXYZ&requestId={request_id}"
            ),
        }
        assert call.request.headers["Content-Type"].startswith("application/json")

    assert statement.channel == "momo"
    assert statement.business_day == DAY
    assert statement.control == ControlTotals(count=5, amount=345000)
    assert [line.channel_txn_id for line in statement.lines] == [
        f"412345678900{n}" for n in range(1, 8)
    ]
    assert [line.status for line in statement.lines] == [
        "success", "failed", "success", "pending", "success", "success", "success",
    ]  # fmt: skip
    first_raw = recorded("momo", f"statement-{DAY}-page1.json")["transactions"][0]
    assert statement.lines[0] == StatementLine(
        channel="momo",
        channel_txn_id="4123456789001",
        amount=50000,
        fee=1100,
        kind="payment",
        status="success",
        paid_at=_paid_at("2024-11-25T08:15:02"),
        business_day=DAY,
        order_ref="HA-H17.25-241125-0042-1",
        description="Thanh toán lệ phí hồ sơ H17.25-241125-0042 - Cấp bản sao trích lục khai sinh",
        payer="*******567",
        raw={**first_raw, "payerPhone": "*******567"},
    )
    refund = statement.lines[4]
    assert (refund.kind, refund.refund_of, refund.order_ref, refund.amount) == (
        "refund",
        "4123456789001",
        "HA-RF-H17.25-241125-0042-1",
        50000,
    )
    assert statement.lines[0].refund_of is None
    assert all(line.paid_at.tzinfo is UTC for line in statement.lines)
    assert "0901234567" not in repr(statement)  # only masked payers are kept


@pytest.mark.parametrize("total_pages", [0, 1])
async def test_an_empty_day_is_one_page(
    respx_mock: respx.MockRouter,
    http_client: httpx.AsyncClient,
    retry_policy: RetryPolicy,
    total_pages: int,
) -> None:
    empty = {**recorded("momo", "statement-2024-11-27-page1.json"), "totalPages": total_pages}
    route = respx_mock.post(STATEMENT).mock(side_effect=momo_server({1: empty}))
    statement = await momo_adapter(http_client, retry_policy).fetch_day(date(2024, 11, 27))
    assert route.call_count == 1
    assert statement.lines == []
    assert statement.control == ControlTotals(count=0, amount=0)


async def test_recorded_empty_day_replays_with_its_own_signature(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    body = recorded_bytes("momo", "statement-2024-11-27-page1.json")
    respx_mock.post(STATEMENT).mock(return_value=httpx.Response(200, content=body))
    adapter = momo_adapter(http_client, retry_policy, ["9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c01"])
    assert (await adapter.fetch_day(date(2024, 11, 27))).lines == []


async def test_four_transient_failures_on_a_page_are_survived(
    respx_mock: respx.MockRouter,
    http_client: httpx.AsyncClient,
    retry_policy: RetryPolicy,
    sleeps: SleepRecorder,
) -> None:
    serve = momo_server(_day_pages())
    calls_per_page: dict[int, int] = {}
    flaky_page_two = failing_then(FOUR_TRANSIENT_FAILURES, serve)

    def side_effect(request: httpx.Request) -> httpx.Response:
        page = json.loads(request.content)["page"]
        calls_per_page[page] = calls_per_page.get(page, 0) + 1
        return flaky_page_two(request) if page == 2 else serve(request)

    respx_mock.post(STATEMENT).mock(side_effect=side_effect)
    statement = await momo_adapter(http_client, retry_policy).fetch_day(DAY)
    assert calls_per_page == {1: 1, 2: 5, 3: 1}
    assert sleeps.delays == FOUR_RETRY_DELAYS
    assert len(statement.lines) == 7


async def test_result_code_99_is_retried_like_a_5xx(
    respx_mock: respx.MockRouter,
    http_client: httpx.AsyncClient,
    retry_policy: RetryPolicy,
    sleeps: SleepRecorder,
) -> None:
    busy = httpx.Response(200, json={"resultCode": 99, "message": "Hệ thống đang bận."})
    answers = iter([busy, busy])
    serve = momo_server(_day_pages())
    respx_mock.post(STATEMENT).mock(
        side_effect=lambda request: next(answers, None) or serve(request)
    )
    statement = await momo_adapter(http_client, retry_policy).fetch_day(DAY)
    assert sleeps.delays == FOUR_RETRY_DELAYS[:2]
    assert len(statement.lines) == 7


async def test_each_attempt_is_signed_with_a_fresh_request_id(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    route = respx_mock.post(STATEMENT).mock(
        side_effect=failing_then([500], momo_server(_day_pages()))
    )
    await momo_adapter(http_client, retry_policy).fetch_day(DAY)
    ids = [json.loads(call.request.content)["requestId"] for call in route.calls]
    assert ids == ["req-1", "req-2", "req-3", "req-4"]


async def test_bad_response_signature_is_an_auth_error_not_retried(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    def forged(request: httpx.Request) -> httpx.Response:
        answer = momo_server(_day_pages())(request).json()
        return httpx.Response(200, json={**answer, "totalAmount": answer["totalAmount"] + 1})

    route = respx_mock.post(STATEMENT).mock(side_effect=forged)
    with pytest.raises(ChannelAuthError, match="signature does not verify"):
        await momo_adapter(http_client, retry_policy).fetch_day(DAY)
    assert route.call_count == 1


async def test_result_code_11_is_an_auth_error_not_retried(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    route = respx_mock.post(STATEMENT).mock(
        return_value=httpx.Response(200, json={"resultCode": 11, "message": "Truy cập bị từ chối."})
    )
    with pytest.raises(ChannelAuthError, match="resultCode 11"):
        await momo_adapter(http_client, retry_policy).fetch_day(DAY)
    assert route.call_count == 1


async def test_other_envelope_result_codes_are_format_errors(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    respx_mock.post(STATEMENT).mock(
        return_value=httpx.Response(200, json={"resultCode": 20, "message": "Sai định dạng."})
    )
    with pytest.raises(StatementFormatError, match="resultCode 20"):
        await momo_adapter(http_client, retry_policy).fetch_day(DAY)


async def test_a_missing_envelope_field_is_a_format_error(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    page = recorded("momo", "statement-2024-11-27-page1.json")
    del page["totalPages"]
    respx_mock.post(STATEMENT).mock(
        side_effect=lambda request: httpx.Response(
            200, json={**page, "requestId": json.loads(request.content)["requestId"]}
        )
    )
    with pytest.raises(StatementFormatError, match="totalPages"):
        await momo_adapter(http_client, retry_policy).fetch_day(date(2024, 11, 27))


async def test_an_answer_to_another_request_is_refused(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    page = _signed_answer({**recorded("momo", "statement-2024-11-27-page1.json")})
    respx_mock.post(STATEMENT).mock(return_value=httpx.Response(200, json=page))
    with pytest.raises(StatementFormatError, match="requestId"):
        await momo_adapter(http_client, retry_policy).fetch_day(date(2024, 11, 27))


async def test_wrong_control_totals_raise_control_totals_mismatch(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    pages = _day_pages()
    for page in pages.values():
        page["totalCount"], page["totalAmount"] = 6, 400000
    respx_mock.post(STATEMENT).mock(side_effect=momo_server(pages))
    with pytest.raises(ControlTotalsMismatch) as caught:
        await momo_adapter(http_client, retry_policy).fetch_day(DAY)
    error = caught.value
    assert (error.expected_count, error.expected_amount) == (6, 400000)
    assert (error.received_count, error.received_amount) == (5, 345000)


async def test_a_page_whose_totals_disagree_with_what_was_received_is_a_mismatch(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    pages = _day_pages()
    pages[1]["totalCount"] = 6  # only page 1 says so; the last page is right
    respx_mock.post(STATEMENT).mock(side_effect=momo_server(pages))
    with pytest.raises(ControlTotalsMismatch) as caught:
        await momo_adapter(http_client, retry_policy).fetch_day(DAY)
    assert (caught.value.expected_count, caught.value.received_count) == (6, 5)


async def test_a_line_delivered_again_with_new_content_takes_the_later(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    pages = _day_pages()
    pending = pages[2]["transactions"][0]
    pages[3]["transactions"].append({**pending, "resultCode": 0, "message": "Thành công."})
    for page in pages.values():
        page["totalCount"], page["totalAmount"] = 6, 445000
    respx_mock.post(STATEMENT).mock(side_effect=momo_server(pages))
    statement = await momo_adapter(http_client, retry_policy).fetch_day(DAY)
    line = next(x for x in statement.lines if x.channel_txn_id == "4123456789004")
    assert line.status == "success"


async def test_a_refund_without_refund_of_is_refused(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    pages = _day_pages()
    del pages[2]["transactions"][1]["refundOf"]
    respx_mock.post(STATEMENT).mock(side_effect=momo_server(pages))
    with pytest.raises(StatementFormatError, match="refundOf"):
        await momo_adapter(http_client, retry_policy).fetch_day(DAY)


@pytest.mark.parametrize("moment", [-1, 10**17, 253_402_275_600_000])
async def test_a_response_time_off_the_calendar_is_refused_naming_it(
    respx_mock: respx.MockRouter,
    http_client: httpx.AsyncClient,
    retry_policy: RetryPolicy,
    moment: int,
) -> None:
    pages = _day_pages()
    pages[1]["transactions"][0]["responseTime"] = moment
    respx_mock.post(STATEMENT).mock(side_effect=momo_server(pages))
    with pytest.raises(StatementFormatError) as caught:
        await momo_adapter(http_client, retry_policy).fetch_day(DAY)
    assert caught.value.field == "responseTime"
    assert (caught.value.line or "").startswith("page 1 item 1")


@pytest.mark.parametrize(
    ("code", "status"),
    [(0, "success"), (1000, "pending"), (7000, "pending"), (7002, "pending"),
     (8000, "pending"), (9000, "pending"), (1001, "failed"), (1005, "failed"),
     (1006, "failed"), (1017, "failed"), (1026, "failed"), (4001, "failed")],
)  # fmt: skip
def test_transaction_result_codes_map_to_statuses(code: int, status: str) -> None:
    assert status_of(code) == status


def _query_answer(request: httpx.Request, **changes: object) -> httpx.Response:
    """A query answer signed as MoMo signs it: accessKey, amount, extraData, message, orderId,
    partnerCode, payType, requestId, responseTime, resultCode, transId."""
    sent = json.loads(request.content)
    answer: dict[str, Any] = {
        "partnerCode": "MOMOXYZ",
        "orderId": sent["orderId"],
        "requestId": sent["requestId"],
        "extraData": "",
        "amount": 50000,
        "transId": 4123456789001,
        "payType": "qr",
        "resultCode": 0,
        "refundTrans": [],
        "message": "Thành công.",
        "responseTime": 1732559404000,
        "lastUpdated": 1732497302000,
    }
    keys = ["amount", "extraData", "message", "orderId", "partnerCode", "payType"]
    keys += ["requestId", "responseTime", "resultCode", "transId"]
    signed = f"accessKey={MOMO_ACCESS_KEY}&" + "&".join(f"{k}={answer[k]}" for k in keys)
    return httpx.Response(200, json={**answer, "signature": _sign(signed), **changes})


async def test_query_order_sends_a_signed_query_and_returns_the_verified_answer(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    route = respx_mock.post("/v2/gateway/api/query").mock(side_effect=_query_answer)
    result = await momo_adapter(http_client, retry_policy).query_order("HA-H17.25-241125-0042-1")
    assert result["transId"] == 4123456789001
    assert result["resultCode"] == 0
    assert json.loads(route.calls.last.request.content) == {
        "partnerCode": "MOMOXYZ",
        "requestId": "req-1",
        "orderId": "HA-H17.25-241125-0042-1",
        "lang": "vi",
        "signature": _sign(
            f"accessKey={MOMO_ACCESS_KEY}&orderId=HA-H17.25-241125-0042-1"
            "&partnerCode=MOMOXYZ&requestId=req-1"
        ),
    }


async def test_query_order_with_a_bad_answer_signature_is_an_auth_error_not_retried(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    route = respx_mock.post("/v2/gateway/api/query").mock(
        side_effect=lambda request: _query_answer(request, amount=5000000)
    )
    with pytest.raises(ChannelAuthError, match="signature"):
        await momo_adapter(http_client, retry_policy).query_order("HA-H17.25-241125-0042-1")
    assert route.call_count == 1


async def test_query_order_auth_failure_names_no_day(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    respx_mock.post("/v2/gateway/api/query").mock(
        return_value=httpx.Response(200, json={"resultCode": 11, "message": "Sai chữ ký."})
    )
    with pytest.raises(ChannelAuthError) as caught:
        await momo_adapter(http_client, retry_policy).query_order("HA-1")
    assert caught.value.business_day is None
    assert str(caught.value).startswith("momo -: resultCode 11")


@pytest.mark.parametrize(
    "name",
    sorted(path.name for path in (RECORDED / "momo").glob("statement-*.json")),
)
def test_recorded_pages_are_signed_with_the_documented_test_secret(name: str) -> None:
    page = recorded("momo", name)
    assert _signed_answer(page)["signature"] == page["signature"]
