"""Values read from query and path parameters, each fault named by the parameter's API name."""

from __future__ import annotations

from datetime import date

from recon.errors import BadInput, FieldError


def query_day(text: str, name: str) -> date:
    """A `YYYY-MM-DD` parameter; BadInput (422) naming `name` otherwise."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        reason = f"{text!r} is not a date YYYY-MM-DD"
        raise BadInput(f"{name}: {reason}", [FieldError(name, reason)]) from None


def optional_day(text: str | None, name: str) -> date | None:
    return None if text is None else query_day(text, name)
