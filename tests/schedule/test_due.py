"""The due-day rule of DESIGN 8 ("Scheduling"), a pure reading of the clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from recon.schedule.due import due_window, last_due_day, window

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
NIGHTLY = time(1, 30)


def local(y: int, m: int, d: int, hh: int, mm: int) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=HCM)


def test_before_the_nightly_time_the_last_due_day_is_the_day_before_yesterday() -> None:
    assert last_due_day(local(2025, 11, 28, 1, 29), NIGHTLY, HCM) == date(2025, 11, 26)


def test_once_the_nightly_time_has_passed_yesterday_is_due() -> None:
    assert last_due_day(local(2025, 11, 28, 1, 31), NIGHTLY, HCM) == date(2025, 11, 27)
    assert last_due_day(local(2025, 11, 28, 1, 30), NIGHTLY, HCM) == date(2025, 11, 27)


def test_the_rule_reads_local_time_whatever_zone_the_clock_gives() -> None:
    # 18:31 UTC on the 27th is 01:31 on the 28th in Hanoi
    now = datetime(2025, 11, 27, 18, 31, tzinfo=UTC)
    assert last_due_day(now, NIGHTLY, HCM) == date(2025, 11, 27)
    assert last_due_day(now - timedelta(minutes=2), NIGHTLY, HCM) == date(2025, 11, 26)


def test_the_window_is_lookback_days_ending_at_the_last_due_day_oldest_first() -> None:
    days = due_window(local(2025, 11, 28, 9, 0), NIGHTLY, HCM, 7)
    assert days == [date(2025, 11, 21) + timedelta(days=n) for n in range(7)]
    assert due_window(local(2025, 11, 28, 9, 0), NIGHTLY, HCM, 0) == []


@given(
    st.datetimes(
        min_value=datetime(2001, 1, 2), max_value=datetime(2099, 12, 30), timezones=st.just(UTC)
    ),
    st.times(),
    st.integers(min_value=0, max_value=366),
)
def test_the_window_never_reaches_today(now: datetime, at: time, lookback: int) -> None:
    last = last_due_day(now, at, HCM)
    today = now.astimezone(HCM).date()
    assert today - timedelta(days=2) <= last <= today - timedelta(days=1)
    days = window(last, lookback)
    assert len(days) == lookback == len(set(days))
    assert days == sorted(days)
    assert all(day <= last for day in days)
