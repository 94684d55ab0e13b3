"""The run's shapes at our boundary: the JSON a run returns and a run as the API reads it
(DESIGN 6)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from recon.schemas import Out


class RunResult(Out):
    """The run's JSON (DESIGN 6)."""

    run_id: int | None
    date: str
    status: str
    channels: dict[str, dict[str, Any]]
    matched: int = 0
    cases_opened: int = 0
    cases_closed: int = 0
    cases_open: int = 0


class RunOut(Out):
    run_id: int
    date: date
    channel: str | None
    status: str
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    result: dict[str, Any]
