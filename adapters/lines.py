"""Reading a channel's answer, line by line, and checking it against the control totals.

* `decode_json_object`, `typed_payload`: the JSON envelope, typed strictly
* `LineReader`: one raw line's fields; every fault is a `StatementFormatError` naming channel,
  day, line and field
* `mask_number`, `masked_raw`: payer numbers masked before a raw line is stored
* `distinct_lines`, `SuccessTally`, `check_control_totals`: control totals (a mismatch is a
  `ControlTotalsMismatch`)
* `collect_day`: a whole day in memory from an adapter's `stream_day`

The errors themselves are in `adapters.base`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

import msgspec

from adapters.base import ChannelAdapter, ControlTotalsMismatch, StatementFormatError
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


def masked_raw(item: Mapping[str, Any], *fields: str) -> dict[str, Any]:
    """A copy of a raw line with its payer number fields masked, fit to be stored."""
    raw = dict(item)
    for name in fields:
        if isinstance(raw.get(name), str):
            raw[name] = mask_number(raw[name])
    return raw


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
    data: Mapping[str, Any], kind: type[T], *, channel: str, business_day: date | None
) -> T:
    """Type a decoded envelope strictly (an int field takes no bool, float or string)."""
    try:
        return msgspec.convert(data, kind, strict=True)
    except msgspec.ValidationError as exc:
        raise StatementFormatError(
            f"unexpected response shape: {exc}", channel=channel, business_day=business_day
        ) from exc


@dataclass(frozen=True, slots=True)
class LineReader:
    """Reads the fields of one raw line; every fault names channel, day, line and field."""

    item: Mapping[str, Any]
    channel: str
    business_day: date | None
    label: str  # e.g. "page 2 item 3 (transId 2406001)"

    def named(self, txn_id: str) -> LineReader:
        return LineReader(self.item, self.channel, self.business_day, f"{self.label} ({txn_id})")

    def error(self, field_name: str, reason: str) -> StatementFormatError:
        return StatementFormatError(
            reason,
            channel=self.channel,
            business_day=self.business_day,
            line=self.label,
            field=field_name,
        )

    def required(self, field_name: str) -> Any:
        if field_name not in self.item or self.item[field_name] is None:
            raise self.error(field_name, "missing")
        return self.item[field_name]

    def text(self, field_name: str, *, default: str | None = None) -> str:
        """A string field; absent or null gives `default`, or is an error without one."""
        if default is not None and self.item.get(field_name) is None:
            return default
        value = self.required(field_name)
        if not isinstance(value, str):
            raise self.error(field_name, f"expected a string, got {value!r}")
        return value

    def integer(self, field_name: str) -> int:
        value = self.required(field_name)
        if type(value) is not int:  # bool is an int subclass and no integer here
            raise self.error(field_name, f"expected a JSON integer, got {value!r}")
        return value

    def identifier(self, field_name: str) -> str:
        """A channel's id: a JSON integer or a non-empty string, kept as a string."""
        value = self.required(field_name)
        if type(value) is int or (isinstance(value, str) and value.strip()):
            return str(value)
        raise self.error(field_name, f"expected an id, got {value!r}")

    def amount(self, field_name: str, *, minimum: int = 1, signed: bool = False) -> int:
        """Money: a JSON integer in [minimum, MAX_AMOUNT]; `signed` allows 0 < |v| <= MAX_AMOUNT."""
        value = self.required(field_name)
        if type(value) is not int:
            raise self.error(field_name, f"amount must be a JSON integer, got {value!r}")
        low = -MAX_AMOUNT if signed else minimum
        if not low <= value <= MAX_AMOUNT or (signed and value == 0):
            bounds = "0 < |amount|" if signed else f"{minimum} <="
            raise self.error(field_name, f"amount {value} outside {bounds} <= {MAX_AMOUNT}")
        return value

    def local_time(self, field_name: str, layout: str) -> datetime:
        """A local (UTC+7) time written in `layout`, returned aware in UTC."""
        value = self.text(field_name)
        fast = fixed_width_local_time(value, layout)
        if fast is not None:
            return fast
        try:
            moment = datetime.strptime(value, layout).replace(tzinfo=LOCAL_TZ)
        except ValueError:
            moment = None
        # The round trip refuses what strptime tolerates, such as unpadded fields.
        if moment is None or moment.strftime(layout) != value:
            raise self.error(field_name, f"expected local time as {layout!r}, got {value!r}")
        try:
            return as_utc(moment)
        except ValueError as exc:  # a time off the calendar in UTC (year 1, year 9999)
            raise self.error(field_name, str(exc)) from None


# --- the fast path --------------------------------------------------------------------------


class NotPlain(Exception):
    """A line the typed fast path will not judge; the field-by-field `LineReader` will."""


def plain_id(value: object) -> str:
    """`LineReader.identifier` for the fast path."""
    if type(value) is int or (isinstance(value, str) and value.strip()):
        return str(value)
    raise NotPlain


def read_items(
    items: list[Any],
    typed: type[list[S]],
    fast: Callable[[S, dict[str, Any]], R],
    careful: Callable[[int, Any], R],
) -> list[R]:
    """A page's items, typed in one strict `msgspec.convert` and built by `fast`; if anything
    is off (conversion fails or `fast` raises `NotPlain`), every item goes through `careful`
    (index from 1), which names the line and field at fault."""
    try:
        converted = msgspec.convert(items, typed, strict=True)
        return [fast(one, item) for one, item in zip(converted, items, strict=True)]
    except (msgspec.ValidationError, NotPlain):
        return [careful(index, item) for index, item in enumerate(items, start=1)]


def item_reader(item: Any, channel: str, business_day: date | None, label: str) -> LineReader:
    """A reader for one raw item, which must be a JSON object."""
    if not isinstance(item, dict):
        raise StatementFormatError(
            f"{label}: expected a JSON object, got {item!r}"[:300],
            channel=channel,
            business_day=business_day,
        )
    return LineReader(item, channel, business_day, label)


# The channels' fixed-width layouts: the exact shape, and how to make it ISO 8601 for the C
# parser (`fromisoformat` alone would accept other shapes too).
_FIXED_WIDTH_LAYOUTS: dict[str, tuple[re.Pattern[str], Callable[[str], str]]] = {
    "%Y%m%d%H%M%S": (re.compile("[0-9]{14}"), lambda value: f"{value[:8]}T{value[8:]}"),
    "%Y-%m-%d %H:%M:%S": (
        re.compile("[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}"),
        lambda value: value,
    ),
}


def fixed_width_local_time(value: str, layout: str) -> datetime | None:
    """`LineReader.local_time` without strptime for the usual layouts; None: ask strptime
    (and, on the fast path, `NotPlain`).

    Only for years since 1976 (`as_utc`'s fixed-offset range; earlier years, and what
    `fromisoformat` would take that strptime's round trip refuses, go the careful way)."""
    known = _FIXED_WIDTH_LAYOUTS.get(layout)
    if known is None or not known[0].fullmatch(value):
        return None
    try:
        local = datetime.fromisoformat(known[1](value))
    except ValueError:
        return None  # strptime words the refusal
    if local.year < FIXED_OFFSET_SINCE_YEAR:
        return None
    return as_utc(local)


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
