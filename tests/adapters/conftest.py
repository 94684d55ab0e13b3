"""Shared ground for the adapter tests: test credentials, recorded payloads, instant retries.

The recorded payloads under fixtures/data/recorded/ are signed with these test credentials
(fixtures/data/recorded/make_recorded.py writes them); none of them is a real secret.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.base import RetryPolicy

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
