"""Reading a channel's answer, line by line, and checking it against the control totals.

* `decode_json_object`, `typed_payload`: a JSON answer, then typed strictly by `msgspec.convert`
  into the channel's page Struct, lines included (one pass; the decoded objects are kept as the
  lines' `raw`). `ChannelId`, `Amount`, `Fee`: the constrained field types the channels share
* `PageItems`: names the line and field at fault, from msgspec's error path (`$.items[3].soTien`)
  or from a post-decode check (`FieldFault`, e.g. `local_time`); every fault is a
  `StatementFormatError` naming channel, day, line and field
* `mask_number`: payer numbers masked before a line, or its raw copy, is kept
* `distinct_lines`, `SuccessTally`, `check_control_totals`: control totals (a mismatch is a
  `ControlTotalsMismatch`)
* `collect_day`: a whole day in memory from an adapter's `stream_day`
* `HttpAdapter`: what the HTTP adapters share (settings, `repr` without secrets, `fetch_day`,
  the retrying request, the control-totals check)

The errors themselves are in `adapters.base`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

import httpx
import msgspec
from msgspec import Meta

from adapters.base import (
    DEFAULT_TIMEOUT,
    ChannelAdapter,
    ControlTotalsMismatch,
    PageSink,
    RetryPolicy,
    StatementFormatError,
    request_with_retry,
)
from recon.domain import (
    FIXED_OFFSET_SINCE_YEAR,
    LOCAL_TZ,
    MAX_AMOUNT,
    ChannelStatement,
    ControlTotals,
    StatementLine,
    as_utc,
)

T = TypeVar("T")
S = TypeVar("S")
R = TypeVar("R")

# A channel's id: a JSON integer or a string with something besides white space.
ChannelId = int | Annotated[str, Meta(pattern=r"\S")]
Amount = Annotated[int, Meta(ge=1, le=MAX_AMOUNT)]  # money on a line, VND
Fee = Annotated[int, Meta(ge=0, le=MAX_AMOUNT)]


# --- masking ------------------------------------------------------------------------------


def mask_number(value: str | None) -> str | None:
    """Replace every digit but the last three with `*`: `0901234567` → `*******567`.

    Other characters (spaces, `+`, letters of an account prefix) stay; an empty value is None.
    """
    if not value:
        return None
    if value.isascii():  # the common cases, without a Python loop per character
        if value.isdigit():
            return "*" * max(len(value) - 3, 0) + value[-3:]
        to_hide = len(value.translate(_ONLY_DIGITS)) - 3
        return _ASCII_DIGIT.sub("*", value, count=to_hide) if to_hide > 0 else value
    digits = [i for i, ch in enumerate(value) if ch.isdigit()]
    hidden = set(digits[:-3])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(value))


_ASCII_DIGIT = re.compile("[0-9]")
_ONLY_DIGITS = {code: None for code in range(128) if not chr(code).isdigit()}  # for translate


# --- decoding -----------------------------------------------------------------------------

_JSON_OBJECT = msgspec.json.Decoder(dict[str, Any])


def decode_json_object(
    content: bytes, *, channel: str, business_day: date | None
) -> dict[str, Any]:
    try:
        return _JSON_OBJECT.decode(content)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError too
        raise StatementFormatError(
            f"response is not a JSON object: {exc}", channel=channel, business_day=business_day
        ) from exc


def typed_payload(
    data: dict[str, Any], kind: type[T], *, channel: str, business_day: date | None
) -> T:
    """Type a decoded answer strictly (an int field takes no bool, float or string)."""
    try:
        return msgspec.convert(data, kind, strict=True)
    except msgspec.ValidationError as exc:
        raise StatementFormatError(
            f"unexpected response shape: {exc}", channel=channel, business_day=business_day
        ) from exc


class FieldFault(Exception):
    """A post-decode check refused a field of a line (what msgspec cannot say: a local time,
    a zero amount); `PageItems.build` names the line."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# "Expected `int` >= 1 - at `$.transactions[3].amount`"
_AT = re.compile(r"(?P<reason>.*) - at `(?P<path>[^`]*)`", re.DOTALL)
_ITEM = re.compile(r"\[(?P<index>[0-9]+)\](?:\.(?P<field>\w+))?")
_MISSING = re.compile(r"Object missing required field `(?P<field>[^`]+)`")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True, slots=True)
class PageItems:
    """A page's raw items (as decoded, kept as the lines' `raw`), for naming the one at fault:
    `page 2 item 3 (transId 4123)` and its field."""

    items: list[Any]
    path: str  # where msgspec finds them in the page: "$.transactions"
    id_field: str  # "transId"
    page: int
    channel: str
    business_day: date

    def build(self, typed: list[S], build: Callable[[S, dict[str, Any]], R]) -> list[R]:
        """Each typed item with its raw one through `build`; a `FieldFault` names the line."""
        built: list[R] = []
        for index, item in enumerate(typed):
            try:
                built.append(build(item, self.items[index]))
            except FieldFault as fault:
                raise self._error(index, fault.field, fault.reason) from None
        return built

    def refusal(self, exc: msgspec.ValidationError) -> StatementFormatError:
        """What msgspec refused in the items, named by line and field."""
        at = _AT.fullmatch(str(exc))
        where = (
            at and at["path"].startswith(self.path) and _ITEM.fullmatch(at["path"], len(self.path))
        )
        if not at or not where or int(where["index"]) >= len(self.items):
            return StatementFormatError(
                f"unexpected response shape: {exc}",
                channel=self.channel,
                business_day=self.business_day,
            )
        index, item, reason = int(where["index"]), self.items[int(where["index"])], at["reason"]
        if not isinstance(item, dict):
            return self._error(index, None, f"expected a JSON object, got {item!r}"[:300])
        missing = _MISSING.fullmatch(reason)
        field = missing["field"] if missing else where["field"]
        id_fault = self._id_fault(item)
        if id_fault is not None:  # the id is read first: a line without one is named by place
            return self._error(index, self.id_field, id_fault)
        if missing:
            return self._error(index, field, "missing")
        if field in item and repr(item[field]) not in reason:
            reason = f"{reason} (value {_shown(item[field])})"
        return self._error(index, field, reason)

    def _id_fault(self, item: dict[str, Any]) -> str | None:
        if item.get(self.id_field) is None:
            return "missing"
        try:
            msgspec.convert(item[self.id_field], ChannelId, strict=True)
        except msgspec.ValidationError as exc:
            return f"{exc} (value {_shown(item[self.id_field])})"
        return None

    def _error(self, index: int, field: str | None, reason: str) -> StatementFormatError:
        label = f"page {self.page} item {index + 1}"
        item = self.items[index]
        if field is not None and field != self.id_field and isinstance(item, dict):
            label += f" ({self.id_field} {item[self.id_field]})"
        return StatementFormatError(
            reason, channel=self.channel, business_day=self.business_day, line=label, field=field
        )


# The channels' fixed-width layouts: the exact shape, and how to make it ISO 8601 for the C
# parser (`fromisoformat` alone would accept other shapes too).
_FIXED_WIDTH_LAYOUTS: dict[str, tuple[re.Pattern[str], Callable[[str], str]]] = {
    "%Y%m%d%H%M%S": (re.compile("[0-9]{14}"), lambda value: f"{value[:8]}T{value[8:]}"),
    "%Y-%m-%d %H:%M:%S": (
        re.compile("[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}"),
        lambda value: value,
    ),
}


def local_time(value: object, layout: str, *, field: str) -> datetime:
    """A local (UTC+7) time written exactly in `layout`, returned aware in UTC; else FieldFault.

    The usual layouts since 1976 (`as_utc`'s fixed-offset range) are read by `fromisoformat`
    after an exact-shape check; anything else by strptime, refusing what does not print back
    the same (strptime tolerates unpadded fields)."""
    if value is None:
        raise FieldFault(field, "missing")
    if not isinstance(value, str):
        raise FieldFault(field, f"expected a string, got {value!r}")
    known = _FIXED_WIDTH_LAYOUTS.get(layout)
    if known is not None and known[0].fullmatch(value):
        try:
            local: datetime | None = datetime.fromisoformat(known[1](value))
        except ValueError:
            local = None  # strptime words the refusal
        if local is not None and local.year >= FIXED_OFFSET_SINCE_YEAR:
            return as_utc(local)
    try:
        moment: datetime | None = datetime.strptime(value, layout).replace(tzinfo=LOCAL_TZ)
    except ValueError:
        moment = None
    if moment is None or moment.strftime(layout) != value:
        raise FieldFault(field, f"expected local time as {layout!r}, got {value!r}")
    try:
        return as_utc(moment)
    except ValueError as exc:  # a time off the calendar in UTC (year 1, year 9999)
        raise FieldFault(field, str(exc)) from None


# --- control totals -----------------------------------------------------------------------


def distinct_lines(lines: Iterable[StatementLine]) -> list[StatementLine]:
    """One line per channel_txn_id, in first-seen order; a later delivery replaces an earlier."""
    by_id: dict[str, StatementLine] = {}
    for line in lines:
        by_id[line.channel_txn_id] = line
    return list(by_id.values())


def check_control_totals(
    *,
    reported: Iterable[ControlTotals],
    received: ControlTotals,
    channel: str,
    business_day: date,
) -> ControlTotals:
    """Every page reports the whole day's totals: each must match what was received (an
    `amount` of None compares the count alone). Returns the agreed totals."""
    agreed = received
    for expected in dict.fromkeys(reported):  # in page order, each distinct report once
        amount_differs = expected.amount is not None and expected.amount != received.amount
        if expected.count != received.count or amount_differs:
            raise ControlTotalsMismatch(
                expected=expected, received=received, channel=channel, business_day=business_day
            )
        agreed = expected
    return agreed


class SuccessTally:
    """Control totals as received: count and sum of `amount` over the distinct successful lines
    (a later delivery of a transaction replaces the earlier), kept page by page."""

    def __init__(self) -> None:
        self._amounts: dict[str, int | None] = {}  # txn id -> amount if successful

    def add(self, lines: Iterable[StatementLine]) -> None:
        for line in lines:  # a later delivery of a txn replaces the earlier
            self._amounts[line.channel_txn_id] = line.amount if line.status == "success" else None

    def totals(self) -> ControlTotals:
        amounts = [amount for amount in self._amounts.values() if amount is not None]
        return ControlTotals(count=len(amounts), amount=sum(amounts))


async def collect_day(adapter: ChannelAdapter, business_day: date) -> ChannelStatement:
    """A day's statement gathered in memory from `stream_day`: distinct lines, first-seen order."""
    lines: list[StatementLine] = []

    async def keep(page: list[StatementLine]) -> None:
        lines.extend(page)

    control = await adapter.stream_day(business_day, keep)
    return ChannelStatement(
        channel=adapter.name,
        business_day=business_day,
        lines=distinct_lines(lines),
        control=control,
    )


class HttpAdapter:
    """What every HTTP channel adapter holds alike: client, base URL, page size, timeout and
    retry policy; `repr` that never shows a credential; and the retrying request."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        name: str,
        page_size: int = 500,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.name = name
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._page_size = page_size
        self._timeout = timeout
        self._policy = retry_policy or RetryPolicy()

    def __repr__(self) -> str:  # never show the keys
        return f"{type(self).__name__}(name={self.name!r}, base_url={self._base_url!r})"

    async def stream_day(self, business_day: date, sink: PageSink) -> ControlTotals:
        raise NotImplementedError

    async def fetch_day(self, business_day: date) -> ChannelStatement:
        return await collect_day(self, business_day)

    def _checked_totals(
        self, reported: Iterable[ControlTotals], received: ControlTotals, business_day: date
    ) -> ControlTotals:
        return check_control_totals(
            reported=reported, received=received, channel=self.name, business_day=business_day
        )

    async def _send(
        self,
        make_request: Callable[[], httpx.Request],
        read: Callable[[httpx.Response], T],
        business_day: date | None,
    ) -> T:
        return await request_with_retry(
            self._client,
            make_request,
            read,
            channel=self.name,
            business_day=business_day,
            policy=self._policy,
        )
