"""`UTCDateTime`'s stored text on SQLite: fixed-width ISO 8601 in UTC, so it sorts as time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from recon.db.types import sqlite_text

OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
MOMENTS = st.datetimes(
    min_value=datetime(1900, 1, 2), max_value=datetime(9998, 12, 30), timezones=OFFSETS
)


@given(MOMENTS)
def test_the_stored_text_is_the_utc_isoformat_to_the_microsecond(moment: datetime) -> None:
    text = sqlite_text(moment)
    assert text == moment.astimezone(UTC).isoformat(sep=" ", timespec="microseconds")
    assert len(text) == 32
    assert datetime.fromisoformat(text) == moment


@given(MOMENTS, MOMENTS)
def test_stored_texts_sort_as_their_moments(a: datetime, b: datetime) -> None:
    assert (sqlite_text(a) < sqlite_text(b)) == (a < b)


def test_a_whole_second_keeps_its_six_zero_digits() -> None:
    moment = datetime(2025, 11, 24, 9, 30, tzinfo=timezone(timedelta(hours=7)))
    assert sqlite_text(moment) == "2025-11-24 02:30:00.000000+00:00"
