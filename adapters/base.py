"""What every channel adapter shares: the protocol, the error tree, retries, signing.

Adapters raise only these errors, each naming the channel and the business day (None for a
request not tied to a day, such as a spot check of one order):

* ChannelError                 base: `channel`, `business_day`, `detail`
  + retryable (a later run may well succeed)
    - ChannelUnavailable       timeouts, connection errors, 5xx, 429, MoMo resultCode 99, still
                               failing after `RetryPolicy.max_attempts` attempts
  + not retryable (retrying changes nothing; a person must look)
    - ChannelAuthError         401/403, a bad or missing response signature, MoMo resultCode 11
    - StatementFormatError     the answer breaks the wire contract: bad JSON, missing or mistyped
                               fields, bad amounts (names the line and field), other 4xx/3xx
    - ControlTotalsMismatch    the lines received disagree with the channel's own control totals

Timeouts: an adapter sends every request with its own explicit `httpx.Timeout`
(`DEFAULT_TIMEOUT` unless the caller passes one), whatever the injected client's default is.

Reading lines (JSON answers typed strictly by msgspec, masking payer numbers) and checking control
totals
are in `adapters.lines`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from email.utils import parsedate_to_datetime
from typing import ClassVar, Literal, Protocol, Required, TypedDict, TypeVar

import httpx

from recon.domain import ChannelStatement, ControlTotals, StatementLine

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Connect fast or fail fast; a 500-line page may take a while to produce and read.
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=10.0, pool=5.0)


# Receives each page's lines as soon as the page is read and checked (see `stream_day`).
PageSink = Callable[[list[StatementLine]], Awaitable[None]]


class ChannelAdapter(Protocol):
    """Pulls one channel's statement for one business day, checked against its control totals."""

    @property
    def name(self) -> str: ...

    async def stream_day(self, business_day: date, sink: PageSink) -> ControlTotals:
        """Hand each page's lines to `sink` as it arrives; after the last page, check the
        control totals over every distinct line received and return them. A page's lines may
        repeat an earlier page's (the later delivery wins). Raising anywhere, the control
        totals included, means the day was not received: the caller discards what it was
        handed."""
        ...

    async def fetch_day(self, business_day: date) -> ChannelStatement:
        """The whole day at once (`adapters.lines.collect_day`)."""
        ...


# --- errors -------------------------------------------------------------------------------


class ChannelError(Exception):
    """Base of every adapter error; `str()` reads `"<channel> <day>: <detail>"`."""

    retryable: ClassVar[bool] = False

    def __init__(self, detail: str, *, channel: str, business_day: date | None) -> None:
        self.detail = detail
        self.channel = channel
        self.business_day = business_day
        day = business_day.isoformat() if business_day else "-"
        super().__init__(f"{channel} {day}: {detail}")


class ChannelUnavailable(ChannelError):
    """Transient failures outlasted every attempt; `attempts` says how many were made."""

    retryable = True

    def __init__(
        self, detail: str, *, channel: str, business_day: date | None, attempts: int
    ) -> None:
        super().__init__(detail, channel=channel, business_day=business_day)
        self.attempts = attempts


class ChannelAuthError(ChannelError):
    """The channel refused our credentials, or its answer failed signature verification."""


class StatementFormatError(ChannelError):
    """The answer breaks the wire contract; `line` and `field` say where a line is at fault."""

    def __init__(
        self,
        detail: str,
        *,
        channel: str,
        business_day: date | None,
        line: str | None = None,
        field: str | None = None,
    ) -> None:
        where = ", ".join(part for part in (line, f"field {field!r}" if field else None) if part)
        super().__init__(
            f"{where}: {detail}" if where else detail, channel=channel, business_day=business_day
        )
        self.line = line
        self.field = field


class ControlTotalsMismatch(ChannelError):
    """What was received disagrees with the channel's control totals (amount None: count only)."""

    def __init__(
        self,
        *,
        expected: ControlTotals,
        received: ControlTotals,
        channel: str,
        business_day: date | None,
    ) -> None:
        self.expected_count = expected.count
        self.expected_amount = expected.amount
        self.received_count = received.count
        self.received_amount = received.amount
        super().__init__(
            f"control totals say {_totals_text(expected)}, received {_totals_text(received)}",
            channel=channel,
            business_day=business_day,
        )


def _totals_text(totals: ControlTotals) -> str:
    amount = "" if totals.amount is None else f" / {totals.amount} VND"
    return f"{totals.count} lines{amount}"


# --- retries ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    """How often and how patiently a request is retried; `sleep`, `rand`, `clock` are injectable.

    The n-th retry waits within the ceiling `min(max_delay, base_delay * 2**(n-1))`:
    "equal" jitter draws from [ceiling/2, ceiling] (never hammers a server that just failed),
    "full" jitter from [0, ceiling]. A `Retry-After` replaces the backoff, capped at
    `max_retry_after`.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    jitter: Literal["full", "equal"] = "equal"
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    rand: Callable[[], float] = random.random  # in [0, 1)
    clock: Callable[[], float] = time.time  # Unix seconds, for an HTTP-date Retry-After

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay < 0 or self.max_delay < self.base_delay:
            raise ValueError("RetryPolicy needs max_attempts >= 1 and 0 <= base_delay <= max_delay")

    def backoff_ceiling(self, retry_number: int) -> float:
        """The longest wait before retry `retry_number` (1 = the first retry)."""
        return min(self.max_delay, self.base_delay * 2.0 ** min(retry_number - 1, 32))

    def delay_before_retry(self, retry_number: int, retry_after: float | None = None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        ceiling = self.backoff_ceiling(retry_number)
        if self.jitter == "full":
            return ceiling * self.rand()
        return ceiling / 2 + ceiling / 2 * self.rand()

    def parse_retry_after(self, value: str | None) -> float | None:
        """Seconds a `Retry-After` asks for (delta-seconds or HTTP-date); None if unusable."""
        if not value:
            return None
        value = value.strip()
        if value.isascii() and value.isdigit():
            return float(value)
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            return None
        return max(0.0, moment.timestamp() - self.clock())


class HttpOptions(TypedDict, total=False):
    """The keyword arguments every HTTP adapter takes alike (see `adapters.lines.HttpAdapter`)."""

    base_url: Required[str]
    page_size: int
    timeout: httpx.Timeout
    retry_policy: RetryPolicy | None


class RetryableAnswer(Exception):
    """Raised by a response reader: this 2xx answer is transient (MoMo resultCode 99)."""


async def request_with_retry(
    client: httpx.AsyncClient,
    make_request: Callable[[], httpx.Request],
    read: Callable[[httpx.Response], T],
    *,
    channel: str,
    business_day: date | None,
    policy: RetryPolicy,
) -> T:
    """Send a request until `read` accepts a 2xx answer, retrying only transient failures.

    `make_request` is called for every attempt, so timestamps, request ids and signatures are
    fresh each time. 401/403 raise ChannelAuthError; other non-2xx statuses StatementFormatError.
    """
    cause: Exception | None = None
    reason = ""
    for attempt in range(1, policy.max_attempts + 1):
        request = make_request()
        retry_after: float | None = None
        try:
            response = await client.send(request)
        except httpx.TransportError as exc:
            cause, reason = exc, f"{type(exc).__name__}: {exc}"
        except httpx.DecodingError as exc:
            raise StatementFormatError(
                f"undecodable response body: {exc}", channel=channel, business_day=business_day
            ) from exc
        else:
            status = response.status_code
            if status == 429 or status >= 500:
                cause, reason = None, f"HTTP {status}"
                retry_after = policy.parse_retry_after(response.headers.get("Retry-After"))
            elif status in (401, 403):
                raise ChannelAuthError(
                    f"HTTP {status} for {request.method} {request.url.path}: credentials refused",
                    channel=channel,
                    business_day=business_day,
                )
            elif not 200 <= status < 300:
                raise StatementFormatError(
                    f"HTTP {status} for {request.method} {request.url.path} (not retried)",
                    channel=channel,
                    business_day=business_day,
                )
            else:
                try:
                    return read(response)
                except RetryableAnswer as exc:
                    cause, reason = exc, str(exc)
        if attempt == policy.max_attempts:
            break
        delay = policy.delay_before_retry(attempt, retry_after)
        # Method and path only: queries and headers may carry signatures or keys.
        logger.warning(
            "%s %s: %s %s attempt %d failed (%s); retrying in %.2f s",
            *(channel, business_day, request.method, request.url.path, attempt, reason, delay),
        )
        await policy.sleep(delay)
    raise ChannelUnavailable(
        f"gave up after {policy.max_attempts} attempt{'s' if policy.max_attempts > 1 else ''}; "
        f"last failure: {reason}",
        channel=channel,
        business_day=business_day,
        attempts=policy.max_attempts,
    ) from cause


# --- signing ------------------------------------------------------------------------------


def _hmac_sha256(secret: str, message: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()


def hmac_sha256_hex(secret: str, message: str) -> str:
    """Lowercase hex HMAC-SHA256 (MoMo)."""
    return _hmac_sha256(secret, message).hex()


def hmac_sha256_base64(secret: str, message: str) -> str:
    """Standard base64 HMAC-SHA256 with padding (portal)."""
    return base64.b64encode(_hmac_sha256(secret, message)).decode("ascii")


def _same_signature(expected: str, signature: object) -> bool:
    """Constant-time comparison; a signature that is not a string never matches."""
    if not isinstance(signature, str):
        return False
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8"))


def verify_hmac_sha256_hex(secret: str, message: str, signature: object) -> bool:
    return _same_signature(hmac_sha256_hex(secret, message), signature)


def verify_hmac_sha256_base64(secret: str, message: str, signature: object) -> bool:
    return _same_signature(hmac_sha256_base64(secret, message), signature)
