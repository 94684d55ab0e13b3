"""The statements' shapes at our boundary (DESIGN 6). Plain Structs only: a run that pulls
nothing imports them without the adapters, the HTTP client or the statement file readers."""

from __future__ import annotations

from typing import Any

from recon.schemas import Out
from recon.vocab import ChannelOutcomeStatus


class ChannelOutcome(Out):
    """One channel's part of a run or pull (DESIGN 6)."""

    status: ChannelOutcomeStatus
    lines: int = 0
    inserted: int = 0
    duplicates: int = 0
    updated: int = 0
    error: str | None = None
    # set when the statement disagreed with its own control totals (a case for the run)
    control_mismatch: dict[str, int | None] | None = None

    def as_json(self) -> dict[str, Any]:
        """The channel's entry in a run's JSON (DESIGN 6)."""
        return {
            "status": self.status,
            "lines": self.lines,
            "inserted": self.inserted,
            "duplicates": self.duplicates,
            "updated": self.updated,
            "error": self.error,
        }
