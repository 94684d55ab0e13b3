"""Jinja filters for the accountant's pages: money, dates and counts the Vietnamese way.

Money is `1.234.567 ₫` (dots between thousands, the đồng sign after a space); dates are
`dd/mm/yyyy`, moments `dd/mm/yyyy HH:MM` (in the time zone the controller put them in).
Case-type names come from the ledger exports, so the page and the XLSX agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from recon.ledger.exports import CASE_TYPE_NAMES, open_cases_text

if TYPE_CHECKING:
    from litestar.plugins.jinja import JinjaTemplateEngine

__all__ = [
    "CASE_TYPE_NAMES",
    "FILTERS",
    "loai",
    "ngay",
    "ngay_gio",
    "register_filters",
    "so",
    "vnd",
]


def so(number: int) -> str:
    """A count or an amount without unit: `1.234.567`, `-1.234`."""
    sign = "-" if number < 0 else ""
    return sign + f"{abs(int(number)):,}".replace(",", ".")


def vnd(amount: int) -> str:
    """Int VND as `1.234.567 ₫`; a negative amount as `-1.234 ₫`."""
    return f"{so(amount)} ₫"


def ngay(day: date) -> str:
    """A date as `dd/mm/yyyy`."""
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def ngay_gio(moment: datetime) -> str:
    """A moment as `dd/mm/yyyy HH:MM`, in its own time zone: convert it to local time first."""
    return f"{ngay(moment.date())} {moment.hour:02d}:{moment.minute:02d}"


def ngay_ngan(day: date) -> str:
    """A date as `dd/mm`, for chart axes."""
    return f"{day.day:02d}/{day.month:02d}"


def loai(case_type: str) -> str:
    """A case type's Vietnamese name; an unknown type as itself."""
    return CASE_TYPE_NAMES.get(case_type, case_type)


def ho_so(open_cases: Mapping[str, int]) -> str:
    """Open cases by type: `Thu thiếu: 1; Thu thừa: 2`."""
    return open_cases_text(open_cases)


FILTERS: dict[str, Callable[..., Any]] = {
    "vnd": vnd,
    "so": so,
    "ngay": ngay,
    "ngay_gio": ngay_gio,
    "ngay_ngan": ngay_ngan,
    "loai": loai,
    "ho_so": ho_so,
}


def register_filters(engine: JinjaTemplateEngine) -> None:
    """`TemplateConfig.engine_callback`: makes the filters above known to the templates."""
    engine.engine.filters.update(FILTERS)
