"""The one parser of ISO dates (`YYYY-MM-DD`) typed by people, for the CLI, the API and the web.

A bad date is BadInput naming where it came from: the option on the command line
(`--date: '2025-13-01' is not a date YYYY-MM-DD`), the parameter in the API (also as the
error's field). The web pages say it in Vietnamese around `iso_date`.
"""

from __future__ import annotations

from datetime import date

from recon.errors import BadInput, FieldError


def iso_date(text: str) -> date:
    """`YYYY-MM-DD`, spaces around it ignored; ValueError otherwise."""
    return date.fromisoformat(text.strip())


def parse_date(text: str, name: str) -> date:
    """`iso_date`, or BadInput (422, CLI exit 2) whose message starts with `name`."""
    try:
        return iso_date(text)
    except ValueError:
        reason = f"{text!r} is not a date YYYY-MM-DD"
        raise BadInput(f"{name}: {reason}", [FieldError(name, reason)]) from None


def parse_optional_date(text: str | None, name: str) -> date | None:
    return None if text is None else parse_date(text, name)
