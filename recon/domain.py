"""Domain types shared by the service and the adapters.

Adapters depend on this module alone: it holds the canonical statement line, the control
totals a channel reports for a day, and the one rule for which business day a moment belongs to.
Money is `int` VND everywhere; times are aware.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import MAXYEAR, UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from recon.vocab import LINE_KINDS, LINE_STATUSES, LineKind, LineStatus

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
MAX_AMOUNT = 10**15
MAX_ID = 2**63 - 1  # ids are BIGINT (SQLite INTEGER): a larger one cannot exist

# the vocabularies adapters need, here beside the line they describe (all in recon.vocab)
__all__ = [
    "LINE_KINDS",
    "LINE_STATUSES",
    "LOCAL_TZ",
    "MAX_AMOUNT",
    "MAX_ID",
    "ChannelStatement",
    "ControlTotals",
    "LineKind",
    "LineStatus",
    "StatementLine",
    "as_utc",
    "business_day_of",
    "each_day",
]


# Asia/Ho_Chi_Minh has been UTC+7, without DST, since 13 June 1975: from 1976 on, a moment
# converts by seven hours, without a time-zone database lookup (the bulk paths' hot spot).
_LOCAL_OFFSET = timedelta(hours=7)
FIXED_OFFSET_SINCE_YEAR = 1976
_FIXED_OFFSET_SINCE = datetime(FIXED_OFFSET_SINCE_YEAR, 1, 1, tzinfo=UTC)


def business_day_of(moment: datetime) -> date:
    """The local date of an aware moment in Asia/Ho_Chi_Minh (UTC+7, no DST)."""
    if moment.tzinfo is None:
        raise ValueError("business_day_of needs an aware datetime")
    if moment.tzinfo is UTC and moment >= _FIXED_OFFSET_SINCE:  # every line of every statement
        return (moment + _LOCAL_OFFSET).date()
    return moment.astimezone(LOCAL_TZ).date()


def as_utc(moment: datetime) -> datetime:
    """An aware moment in UTC; a naive one is taken as local time (UTC+7).

    ValueError for a moment that has no place on the calendar in UTC or in local time (years 1
    to 9999): `0001-01-01T00:00:00` local is still year 0 in UTC, `9999-12-31T23:00:00Z` is
    already year 10000 in Hanoi. Every time read from outside comes through here, so no later
    conversion (the business day, the database) can overflow.
    """
    if moment.tzinfo is None and moment.year >= FIXED_OFFSET_SINCE_YEAR:
        # the common case: seven hours back, and the business day is the moment's own date
        return (moment - _LOCAL_OFFSET).replace(tzinfo=UTC)
    try:
        utc = (moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TZ)).astimezone(UTC)
        if utc.year == MAXYEAR:  # its local date may be in year 10000
            business_day_of(utc)
    except OverflowError:
        raise ValueError(
            f"{moment.isoformat()} is out of range: in UTC and in local time (UTC+7) a time "
            "must fall within the years 0001 to 9999"
        ) from None
    return utc


def each_day(start: date, end: date) -> Iterator[date]:
    """Every day from `start` to `end` inclusive, without stepping past the calendar's end
    (`9999-12-31 + 1 day` does not exist)."""
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


class StatementLine(msgspec.Struct, frozen=True, kw_only=True):
    """One transaction as a channel reports it, in canonical form (DESIGN 1 and 8)."""

    channel: str
    channel_txn_id: str
    amount: int
    fee: int
    kind: LineKind
    status: LineStatus
    paid_at: datetime  # aware, UTC
    business_day: date  # local date of paid_at
    order_ref: str | None = None
    dossier_hint: str | None = None
    refund_of: str | None = None
    description: str = ""
    payer: str | None = None  # already masked: never a full phone or account number
    raw: dict[str, Any] = msgspec.field(default_factory=dict)


class ControlTotals(msgspec.Struct, frozen=True, kw_only=True):
    """What the channel says its day holds; `amount` None where it reports only a count."""

    count: int
    amount: int | None = None


class ChannelStatement(msgspec.Struct, frozen=True, kw_only=True):
    """One channel's statement for one business day, checked against its control totals."""

    channel: str
    business_day: date
    lines: list[StatementLine]
    control: ControlTotals
