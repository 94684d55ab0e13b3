"""The run's shapes at our boundary: the JSON a run returns and a run as the API reads it
(DESIGN 6)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec

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
    error: str | None = None  # why a run that broke did (its channels' errors are theirs)


class RefusedRun(Out):
    """The JSON of a run refused before it began (a closed day, a held lease): no run."""

    run_id: None = None
    date: str
    status: str = "refused"
    reason: str
    channels: dict[str, dict[str, Any]]
    matched: int = 0
    cases_opened: int = 0
    cases_closed: int = 0
    cases_open: int = 0


class RunView(Out):
    """A stored run as `recon runs list` and the runs API show it (DESIGN 6): the run's JSON
    plus when it started and finished, what started it, and the error of a run that broke."""

    run_id: int
    date: date
    channel: str | None  # null: every channel
    status: str  # running, succeeded, partial, failed, abandoned
    trigger: str  # manual, nightly, catch_up, retry
    started_at: datetime
    finished_at: datetime | None
    channels: dict[str, dict[str, Any]]
    matched: int
    cases_opened: int
    cases_closed: int
    cases_open: int
    error: str | None

    @classmethod
    def of(cls, run: Any) -> RunView:
        """From a `Run` row: the channels from its stored JSON (none until it finishes)."""
        stored = msgspec.json.decode(run.result or "{}")
        return cls.from_row(
            run, run_id=run.id, date=run.business_day, channels=stored.get("channels", {})
        )
