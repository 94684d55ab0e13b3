"""Which business days are due (DESIGN 8, "Scheduling"): a pure reading of the clock.

The last due day is yesterday (local) once the local time has passed `nightly_at`, else the day
before yesterday. The window is the `lookback_days` days ending with it, oldest first.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def last_due_day(now: datetime, nightly_at: time, tz: ZoneInfo) -> date:
    local = now.astimezone(tz)
    yesterday = local.date() - timedelta(days=1)
    return yesterday if local.time() >= nightly_at else yesterday - timedelta(days=1)


def window(last_due: date, lookback_days: int) -> list[date]:
    """The days catch-up reaches, oldest first: `lookback_days` of them ending at `last_due`."""
    return [last_due - timedelta(days=n) for n in range(lookback_days - 1, -1, -1)]


def due_window(now: datetime, nightly_at: time, tz: ZoneInfo, lookback_days: int) -> list[date]:
    return window(last_due_day(now, nightly_at, tz), lookback_days)
