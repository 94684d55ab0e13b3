"""Shared ground for the adapter tests: test credentials, recorded payloads, instant retries.

The recorded payloads under fixtures/data/recorded/ are signed with these test credentials
(fixtures/data/recorded/make_recorded.py writes them); none of them is a real secret.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.bank import BankAdapter
from adapters.base import RetryPolicy
from adapters.momo import MomoAdapter
from adapters.portal import PortalAdapter

RECORDED = Path(__file__).resolve().parents[2] / "fixtures" / "data" / "recorded"

MOMO_BASE_URL = "http://momo.test"
MOMO_PARTNER_CODE = "MOMOXYZ"
MOMO_ACCESS_KEY = "test-momo-access-key"
MOMO_SECRET_KEY = "test-momo-secret-key"

PORTAL_BASE_URL = "http://portal.test/relay"  # a path prefix: part of what is signed
PORTAL_CLIENT_ID = "ubnd-phuong"
PORTAL_CLIENT_SECRET = "test-portal-client-secret"

BANK_BASE_URL = "http://bank.test"
BANK_API_KEY = "test-bank-api-key"

# Four different transient failures: what an adapter must survive in a row.
FOUR_TRANSIENT_FAILURES: tuple[int | type[Exception], ...] = (
    500,
    httpx.ConnectTimeout,
    httpx.ConnectError,
    503,
)
FIVE_TRANSIENT_FAILURES = (*FOUR_TRANSIENT_FAILURES, httpx.ReadTimeout)

# Delays of the first four retries with equal jitter and rand() = 0.5: 3/4 of 0.5, 1, 2, 4 s.
FOUR_RETRY_DELAYS = [0.375, 0.75, 1.5, 3.0]

# Amounts every adapter must refuse on a line, each with a reason in its id.
BAD_AMOUNTS = [
    pytest.param(0, id="zero"),
    pytest.param(-50000, id="negative"),
    pytest.param(50000.0, id="float-integral"),
    pytest.param(1.5, id="float"),
    pytest.param("50000", id="string"),
    pytest.param(10**15 + 1, id="above-10^15"),
    pytest.param(True, id="bool"),
    pytest.param(None, id="null"),
]
BAD_FEES = [p for p in BAD_AMOUNTS if p.id != "zero"]  # a fee of 0 is fine


def recorded(channel: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDED / channel / name).read_text(encoding="utf-8"))
    return data


def recorded_bytes(channel: str, name: str) -> bytes:
    return (RECORDED / channel / name).read_bytes()


class SleepRecorder:
    """Stands in for asyncio.sleep: records each delay and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def retry_policy(sleeps: SleepRecorder) -> RetryPolicy:
    return RetryPolicy(sleep=sleeps, rand=lambda: 0.5)


# Built once: loading the CA bundle for every client would dominate the suite's run time.
_TLS_CONTEXT = ssl.create_default_context()


@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0), verify=_TLS_CONTEXT) as client:
        yield client


Handler = Callable[[httpx.Request], httpx.Response]


def failing_then(failures: Sequence[int | type[Exception]], serve: Handler) -> Handler:
    """A respx side effect: the given failures in order (a status or a transport error), then
    `serve` for every later request."""
    remaining = list(failures)

    def side_effect(request: httpx.Request) -> httpx.Response:
        if remaining:
            failure = remaining.pop(0)
            if isinstance(failure, int):
                return httpx.Response(failure)
            raise failure("simulated failure", request=request)  # type: ignore[call-arg]
        return serve(request)

    return side_effect


@pytest.fixture(params=["UTC", "America/Los_Angeles", "Pacific/Kiritimati"])
def host_tz(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run under several host time zones: the business day must never depend on TZ."""
    monkeypatch.setenv("TZ", request.param)
    time.tzset()
    yield request.param
    monkeypatch.undo()
    time.tzset()


# --- channel drivers: what the parametrised suite (test_channels.py) needs of each channel ---

MOMO_PAGE_KEYS = [
    "date", "page", "partnerCode", "requestId", "resultCode",
    "totalAmount", "totalCount", "totalPages",
]  # fmt: skip
BANK_SETTLEMENT_ACCOUNT = "0011004455667"  # MoMo's settlement account at the ward's bank


def momo_sign(message: str) -> str:
    return hmac.new(MOMO_SECRET_KEY.encode(), message.encode(), hashlib.sha256).hexdigest()


def momo_signed_answer(page: dict[str, Any]) -> dict[str, Any]:
    """What a MoMo server signs: accessKey, then MOMO_PAGE_KEYS in that order."""
    message = f"accessKey={MOMO_ACCESS_KEY}&" + "&".join(f"{k}={page[k]}" for k in MOMO_PAGE_KEYS)
    return {**page, "signature": momo_sign(message)}


def day_pages(channel: str, day: str = "2024-11-25") -> list[dict[str, Any]]:
    """The recorded pages of a day, in order."""
    stem = {"momo": "statement", "portal": "giao-dich", "bank": "transactions"}[channel]
    pages = []
    for number in itertools.count(1):
        try:
            pages.append(recorded(channel, f"{stem}-{day}-page{number}.json"))
        except FileNotFoundError:
            return pages
    raise AssertionError("unreachable")


def momo_server(pages: list[dict[str, Any]]) -> Handler:
    """Answers each request with its page, echoing the requestId and signing afresh."""

    def serve(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        page = {**pages[sent["page"] - 1], "requestId": sent["requestId"], "page": sent["page"]}
        return httpx.Response(200, json=momo_signed_answer(page))

    return serve


def portal_server(pages: list[dict[str, Any]]) -> Handler:
    """Serves pages by cursor: none for the first, then each page's nextCursor."""
    by_cursor = {None: pages[0]}
    by_cursor.update({page["nextCursor"]: after for page, after in itertools.pairwise(pages)})

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=by_cursor[request.url.params.get("cursor")])

    return serve


def bank_server(pages: list[dict[str, Any]]) -> Handler:
    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[int(request.url.params["page"]) - 1])

    return serve


@dataclass(frozen=True, kw_only=True)
class Driver:
    """One channel as the shared tests see it."""

    name: str
    base_url: str
    method: str
    path: str
    make: Callable[[httpx.AsyncClient, RetryPolicy], Any]  # the adapter
    serve: Callable[[list[dict[str, Any]]], Handler]  # a server of these pages
    items: Callable[[dict[str, Any]], list[dict[str, Any]]]  # a page's lines
    day_of: Callable[[httpx.Request], str]  # the day a request asks for
    secrets: tuple[str, ...]
    lines_on_day: int  # distinct lines of the recorded 2024-11-25
    pages_on_day: int
    # Bad money on a recorded line: (page index, item index), the line's name, field -> values
    bad_line: tuple[int, int]
    bad_line_name: str
    bad_values: dict[str, list[Any]]

    def __str__(self) -> str:
        return self.name


def momo_adapter(
    client: httpx.AsyncClient, policy: RetryPolicy, request_ids: list[str] | None = None
) -> MomoAdapter:
    """The MoMo adapter under test; request ids `request_ids`, else req-1, req-2, …"""
    ids = iter(request_ids) if request_ids else (f"req-{n}" for n in itertools.count(1))
    return MomoAdapter(
        client,
        base_url=MOMO_BASE_URL,
        partner_code=MOMO_PARTNER_CODE,
        access_key=MOMO_ACCESS_KEY,
        secret_key=MOMO_SECRET_KEY,
        retry_policy=policy,
        new_request_id=lambda: next(ids),
    )


def _portal(client: httpx.AsyncClient, policy: RetryPolicy) -> PortalAdapter:
    return PortalAdapter(
        client,
        base_url=PORTAL_BASE_URL,
        client_id=PORTAL_CLIENT_ID,
        client_secret=PORTAL_CLIENT_SECRET,
        retry_policy=policy,
        clock=lambda: 1732559404,
    )


def _bank(client: httpx.AsyncClient, policy: RetryPolicy) -> BankAdapter:
    return BankAdapter(
        client,
        base_url=BANK_BASE_URL,
        api_key=BANK_API_KEY,
        settlement_accounts=[BANK_SETTLEMENT_ACCOUNT],
        retry_policy=policy,
    )


# The outgoing record's amount is negative on purpose: only zero and non-integers are bad there.
BAD_INCOMING_AMOUNTS = [p.values[0] for p in BAD_AMOUNTS if p.id != "negative"] + [
    -(10**15) - 1,
    -1.5,
]

DRIVERS = [
    Driver(
        name="momo",
        base_url=MOMO_BASE_URL,
        method="POST",
        path="/v2/gateway/api/statement",
        make=momo_adapter,
        serve=momo_server,
        items=lambda page: page["transactions"],  # type: ignore[no-any-return]
        day_of=lambda request: json.loads(request.content)["date"],  # type: ignore[no-any-return]
        secrets=(MOMO_SECRET_KEY, MOMO_ACCESS_KEY),
        lines_on_day=7,
        pages_on_day=3,
        bad_line=(0, 2),
        bad_line_name="page 1 item 3 (transId 4123456789003)",
        bad_values={
            "amount": [p.values[0] for p in BAD_AMOUNTS],
            "fee": [p.values[0] for p in BAD_FEES],
        },
    ),
    Driver(
        name="portal",
        base_url=PORTAL_BASE_URL,
        method="GET",
        path="/api/v1/doi-soat/giao-dich",
        make=_portal,
        serve=portal_server,
        items=lambda page: page["items"],  # type: ignore[no-any-return]
        day_of=lambda request: request.url.params["ngay"],
        secrets=(PORTAL_CLIENT_SECRET,),
        lines_on_day=6,
        pages_on_day=3,
        bad_line=(1, 1),
        bad_line_name="page 2 item 2 (maGiaoDich PT2411250004)",
        bad_values={
            "soTien": [p.values[0] for p in BAD_AMOUNTS],
            "phiGiaoDich": [p.values[0] for p in BAD_FEES],
        },
    ),
    Driver(
        name="bank",
        base_url=BANK_BASE_URL,
        method="GET",
        path="/v2/transactions",
        make=_bank,
        serve=bank_server,
        items=lambda page: page["data"]["records"],  # type: ignore[no-any-return]
        day_of=lambda request: request.url.params["fromDate"],
        secrets=(BANK_API_KEY,),
        lines_on_day=4,
        pages_on_day=2,
        bad_line=(1, 0),
        bad_line_name="page 2 item 1 (id 88120344)",
        bad_values={"amount": BAD_INCOMING_AMOUNTS},
    ),
]
