"""The days' shapes at our boundary: a day's close state, its audit events, and the body that
closes or reopens it (DESIGN 6)."""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from recon.schemas import In, Out


class DayAction(In):
    user: str
    note: str


class DayOut(Out):
    date: date
    status: str
    closed_at: datetime | None
    closed_by: str | None
    note: str
    live_cases: list[int] = msgspec.field(default_factory=list)


class DayEventOut(Out):
    date: date
    action: str
    user: str
    at: datetime
    note: str
