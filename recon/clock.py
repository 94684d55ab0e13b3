"""The one clock: the time now, aware and in UTC.

Whatever needs the time takes it from here, or is handed a `Clock` so a test can give it
another: runs and imports take a `clock` argument, and controllers get one by dependency
injection (`recon.plugin`, from `create_app(clock=...)`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)
