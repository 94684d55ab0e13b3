"""Portal payment platform adapter (DESIGN 2.2) against recorded pages replayed by respx."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import respx

from adapters.base import (
    ControlTotalsMismatch,
    RetryPolicy,
    StatementFormatError,
)
from adapters.portal import PortalAdapter
from recon.domain import ControlTotals, StatementLine
from tests.adapters.conftest import (
    FOUR_RETRY_DELAYS,
    FOUR_TRANSIENT_FAILURES,
    PORTAL_BASE_URL,
    PORTAL_CLIENT_ID,
    PORTAL_CLIENT_SECRET,
    SleepRecorder,
    failing_then,
    recorded,
    recorded_bytes,
)

pytestmark = pytest.mark.respx(base_url=PORTAL_BASE_URL)

DAY = date(2024, 11, 25)
STATEMENT = "/api/v1/doi-soat/giao-dich"
NOW = 1732559404  # 2024-11-26 01:30:04 +07:00
TARGETS = [
    "/relay/api/v1/doi-soat/giao-dich?ngay=2024-11-25&limit=500",
    "/relay/api/v1/doi-soat/giao-dich?ngay=2024-11-25&cursor=c2VxPTI%3D%2Fp%2B2&limit=500",
    "/relay/api/v1/doi-soat/giao-dich?ngay=2024-11-25&cursor=c2VxPTQ%3D%2Fp%2B3&limit=500",
]


def _expected_signature(timestamp: str, target: str) -> str:
    message = f"{PORTAL_CLIENT_ID}\n{timestamp}\n{target}".encode()
    digest = hmac.new(PORTAL_CLIENT_SECRET.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _day_pages(day: str = "2024-11-25") -> list[dict[str, Any]]:
    pages = []
    for number in itertools.count(1):
        try:
            pages.append(recorded("portal", f"giao-dich-{day}-page{number}.json"))
        except FileNotFoundError:
            return pages
    raise AssertionError("unreachable")


def portal_server(pages: list[dict[str, Any]]) -> Callable[[httpx.Request], httpx.Response]:
    """Serves pages by cursor: none for the first, then each page's nextCursor."""
    by_cursor = {None: pages[0]}
    by_cursor.update({page["nextCursor"]: after for page, after in itertools.pairwise(pages)})

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=by_cursor[request.url.params.get("cursor")])

    return serve


def _adapter(
    client: httpx.AsyncClient, policy: RetryPolicy, clock: Callable[[], float] = lambda: NOW
) -> PortalAdapter:
    return PortalAdapter(
        client,
        base_url=PORTAL_BASE_URL,
        client_id=PORTAL_CLIENT_ID,
        client_secret=PORTAL_CLIENT_SECRET,
        retry_policy=policy,
        clock=clock,
    )


def _paid_at(local: str) -> datetime:
    return datetime.fromisoformat(local + "+07:00").astimezone(UTC)


async def test_happy_path_pages_by_cursor_with_signed_requests(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    route = respx_mock.get(STATEMENT).mock(
        side_effect=[
            httpx.Response(200, content=recorded_bytes("portal", f"giao-dich-{DAY}-page{n}.json"))
            for n in (1, 2, 3)
        ]
    )
    statement = await _adapter(http_client, retry_policy).fetch_day(DAY)

    assert route.call_count == 3
    for call, target in zip(route.calls, TARGETS, strict=True):
        request = call.request
        # Parameters in the order ngay, cursor, limit, and byte for byte what was signed.
        assert request.url.raw_path.decode() == target
        assert request.headers["X-Client-Id"] == "ubnd-phuong"
        assert request.headers["X-Timestamp"] == str(NOW)
        assert request.headers["X-Signature"] == _expected_signature(str(NOW), target)
    # The cursor reaches the server exactly as it was handed out.
    assert route.calls[1].request.url.params["cursor"] == "c2VxPTI=/p+2"

    assert statement.control == ControlTotals(count=3, amount=190000)
    assert [line.channel_txn_id for line in statement.lines] == [
        f"PT241125000{n}" for n in range(1, 7)
    ]
    assert [(line.kind, line.status) for line in statement.lines] == [
        ("payment", "success"),
        ("payment", "pending"),
        ("payment", "failed"),
        ("refund", "success"),
        ("payment", "reversed"),
        ("payment", "success"),
    ]
    assert statement.lines[0] == StatementLine(
        channel="portal",
        channel_txn_id="PT2411250001",
        amount=20000,
        fee=1650,
        kind="payment",
        status="success",
        paid_at=_paid_at("2024-11-25T08:15:02"),
        business_day=DAY,
        order_ref="DVC-20241125-000113",
        dossier_hint="H17.25-241125-0042",
        description="Nộp lệ phí cấp bản sao trích lục khai sinh, hồ sơ H17.25-241125-0042",
        raw=recorded("portal", f"giao-dich-{DAY}-page1.json")["items"][0],
    )
    assert statement.lines[1].dossier_hint is None  # maHoSo ""
    refund = statement.lines[3]
    # A portal refund names its payment by the payment's order ref, not by a txn id.
    assert (refund.order_ref, refund.refund_of) == ("DVC-20241125-000113", None)


async def test_an_empty_day_is_one_page(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    route = respx_mock.get(STATEMENT).mock(
        return_value=httpx.Response(
            200, content=recorded_bytes("portal", "giao-dich-2024-11-27-page1.json")
        )
    )
    statement = await _adapter(http_client, retry_policy).fetch_day(date(2024, 11, 27))
    assert route.call_count == 1
    assert statement.lines == []


async def test_four_transient_failures_are_survived_each_attempt_signed_afresh(
    respx_mock: respx.MockRouter,
    http_client: httpx.AsyncClient,
    retry_policy: RetryPolicy,
    sleeps: SleepRecorder,
) -> None:
    route = respx_mock.get(STATEMENT).mock(
        side_effect=failing_then(FOUR_TRANSIENT_FAILURES, portal_server(_day_pages()))
    )
    ticks = itertools.count(NOW, 10)
    statement = await _adapter(http_client, retry_policy, lambda: next(ticks)).fetch_day(DAY)
    assert len(statement.lines) == 6
    assert sleeps.delays == FOUR_RETRY_DELAYS
    assert route.call_count == 7
    for call in route.calls:
        headers, target = call.request.headers, call.request.url.raw_path.decode()
        assert headers["X-Signature"] == _expected_signature(headers["X-Timestamp"], target)
    assert len({call.request.headers["X-Timestamp"] for call in route.calls}) == 7


async def test_a_missing_control_total_is_a_format_error(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    page = recorded("portal", "giao-dich-2024-11-27-page1.json")
    del page["tongSoTien"]
    respx_mock.get(STATEMENT).mock(return_value=httpx.Response(200, json=page))
    with pytest.raises(StatementFormatError, match="tongSoTien"):
        await _adapter(http_client, retry_policy).fetch_day(date(2024, 11, 27))


async def test_a_page_for_another_day_is_refused(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    page = recorded("portal", "giao-dich-2024-11-27-page1.json")
    respx_mock.get(STATEMENT).mock(return_value=httpx.Response(200, json=page))
    with pytest.raises(StatementFormatError, match="ngay"):
        await _adapter(http_client, retry_policy).fetch_day(DAY)


async def test_a_repeated_cursor_is_refused_instead_of_looping(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    page = {**recorded("portal", "giao-dich-2024-11-27-page1.json"), "nextCursor": "abc"}
    respx_mock.get(STATEMENT).mock(return_value=httpx.Response(200, json=page))
    with pytest.raises(StatementFormatError, match="repeats"):
        await _adapter(http_client, retry_policy).fetch_day(date(2024, 11, 27))


async def test_wrong_control_totals_raise_control_totals_mismatch(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, retry_policy: RetryPolicy
) -> None:
    pages = _day_pages()
    pages[-1]["tongSoTien"] = 170000
    respx_mock.get(STATEMENT).mock(side_effect=portal_server(pages))
    with pytest.raises(ControlTotalsMismatch) as caught:
        await _adapter(http_client, retry_policy).fetch_day(DAY)
    error = caught.value
    assert (error.expected_count, error.expected_amount) == (3, 170000)
    assert (error.received_count, error.received_amount) == (3, 190000)


@pytest.mark.parametrize(
    ("field", "value"),
    [("trangThai", "THANH_CONG_MOT_PHAN"), ("loaiGiaoDich", "CHUYEN_KHOAN"),
     ("thoiGianThanhToan", "2024-11-25 08:15:02"), ("maGiaoDich", ""),
     ("thoiGianThanhToan", "00010101000000")],  # year 0 in UTC: off the calendar
)  # fmt: skip
async def test_unknown_codes_and_bad_times_are_refused_naming_the_field(
    respx_mock: respx.MockRouter,
    http_client: httpx.AsyncClient,
    retry_policy: RetryPolicy,
    field: str,
    value: object,
) -> None:
    pages = _day_pages()
    pages[0]["items"][0][field] = value
    respx_mock.get(STATEMENT).mock(side_effect=portal_server(pages))
    with pytest.raises(StatementFormatError) as caught:
        await _adapter(http_client, retry_policy).fetch_day(DAY)
    assert caught.value.field == field
    assert caught.value.line is not None
    assert caught.value.line.startswith("page 1 item 1")
