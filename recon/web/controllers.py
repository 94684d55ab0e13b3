"""The accountant's ledger page (DESIGN 5), read-only and in Vietnamese.

`GET /so-doi-soat?tu=YYYY-MM-DD&den=YYYY-MM-DD&kenh=C&preset=month|prev-month|year`; the form
sends its dates as `dd/mm/yyyy` (a text field: a date field would show the browser's locale
format, often mm/dd/yyyy), and both forms are accepted. Without
a range it shows the current month so far, in the ward's time zone. Presets are counted from
today: "Tháng này" (the 1st to today), "Tháng trước" (the whole previous month), "Năm nay"
(1 January to today). A bad value answers 400 with the page and a Vietnamese message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import msgspec
from litestar import Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from recon.clock import Clock, utcnow
from recon.dates import iso_date
from recon.errors import BadInput, FieldError
from recon.ledger.exports import MEDIA_TYPES, export_filename, render_ledger
from recon.ledger.schemas import Ledger, LedgerFigures, LedgerRow
from recon.ledger.service import MAX_RANGE_DAYS, build_ledger
from recon.settings import Settings
from recon.web.chart import ledger_chart
from recon.web.format import ngay

LEDGER_PATH = "/so-doi-soat"
DOWNLOAD_PATH = "/so-doi-soat/tai-ve"
DAY_MONTH_YEAR = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
PRESETS = {"month": "Tháng này", "prev-month": "Tháng trước", "year": "Năm nay"}


class DayGroup(msgspec.Struct, kw_only=True):
    """The rows of one day that had anything, for the per-day table."""

    date: date
    closed: bool
    rows: list[LedgerRow]


def local_today(timezone: str, clock: Clock = utcnow) -> date:
    return clock().astimezone(ZoneInfo(timezone)).date()


def preset_range(preset: str, today: date) -> tuple[date, date]:
    if preset == "month":
        return today.replace(day=1), today
    if preset == "prev-month":
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    if preset == "year":
        return today.replace(month=1, day=1), today
    raise BadInput(f"Không có mốc thời gian “{preset}” (chọn Tháng này, Tháng trước hoặc Năm nay).")


def _parse_day(text: str, label: str) -> date:
    """`dd/mm/yyyy` as the form shows it, or ISO `YYYY-MM-DD` as links and the API write it."""
    try:
        found = DAY_MONTH_YEAR.fullmatch(text.strip())
        if found:
            day, month, year = (int(part) for part in found.groups())
            return date(year, month, day)
        return iso_date(text)
    except ValueError:
        raise BadInput(f"{label}: “{text}” không phải là một ngày hợp lệ (dd/mm/yyyy).") from None


def ledger_range(
    today: date, tu: str | None, den: str | None, preset: str | None
) -> tuple[date, date]:
    """The range asked for: a preset, or `tu`..`den` (by default the 1st of `den`'s month and
    today)."""
    if preset:
        return preset_range(preset, today)
    end = _parse_day(den, "Đến ngày") if den else today
    start = _parse_day(tu, "Từ ngày") if tu else end.replace(day=1)
    if end < start:
        raise BadInput(f"Đến ngày {ngay(end)} đứng trước Từ ngày {ngay(start)}.")
    if (end - start).days >= MAX_RANGE_DAYS:
        raise BadInput(f"Mỗi lần chỉ xem được tối đa {MAX_RANGE_DAYS} ngày.")
    return start, end


def selected_channels(kenh: str | None, channels: Sequence[str]) -> list[str]:
    if not kenh:
        return list(channels)
    if kenh not in channels:
        raise BadInput(f"Không có kênh “{kenh}”.")
    return [kenh]


def _has_activity(row: LedgerFigures) -> bool:
    return bool(row.payments_count or row.refunds_count or row.fees or row.open_cases)


def day_groups(ledger: Ledger) -> tuple[list[DayGroup], int]:
    """Days with anything to show, and how many all-zero rows were left out."""
    groups: dict[date, DayGroup] = {}
    hidden = 0
    for row in ledger.rows:
        if not _has_activity(row):
            hidden += 1
            continue
        group = groups.setdefault(row.date, DayGroup(date=row.date, closed=row.closed, rows=[]))
        group.rows.append(row)
    return list(groups.values()), hidden


def _link(**params: str) -> str:
    return f"{LEDGER_PATH}?{urlencode({k: v for k, v in params.items() if v})}"


def _page(settings: Settings, kenh: str, today: date, **context: Any) -> dict[str, Any]:
    presets = []
    for key, label in PRESETS.items():
        start, end = preset_range(key, today)
        active = (context.get("start"), context.get("end")) == (start, end)
        presets.append({"label": label, "href": _link(preset=key, kenh=kenh), "active": active})
    return {
        "ward_name": settings.ward_name,
        "channels": list(settings.channels),
        "kenh": kenh,
        "presets": presets,
        "today": today,
        **context,
    }


def _downloads(start: date, end: date, kenh: str) -> dict[str, str]:
    base = {"tu": start.isoformat(), "den": end.isoformat(), "kenh": kenh}
    given = {k: v for k, v in base.items() if v}
    return {
        fmt: f"{DOWNLOAD_PATH}?{urlencode({**given, 'dinh_dang': fmt})}" for fmt in ("csv", "xlsx")
    }


@get("/", include_in_schema=False, sync_to_thread=False)
def web_root() -> Redirect:
    return Redirect(path="/hang-doi")  # the accountant's queue is the landing page


@get(LEDGER_PATH, include_in_schema=False)
async def ledger_page(
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    clock: NamedDependency[Clock],
    tu: FromQuery[str | None] = None,
    den: FromQuery[str | None] = None,
    kenh: FromQuery[str | None] = None,
    preset: FromQuery[str | None] = None,
) -> Template:
    today = local_today(settings.timezone, clock)
    try:
        start, end = ledger_range(today, tu, den, preset)
        channels = selected_channels(kenh, list(settings.channels))
    except BadInput as exc:
        form = {"tu": tu or "", "den": den or ""}
        known = kenh if kenh in settings.channels else ""
        context = _page(settings, known or "", today, error=exc.detail, form=form)
        return Template(template_name="ledger.html", context=context, status_code=400)
    ledger = await build_ledger(db_session=db_session, start=start, end=end, channels=channels)
    days, hidden = day_groups(ledger)
    context = _page(
        settings,
        kenh or "",
        today,
        start=start,
        end=end,
        form={"tu": ngay(start), "den": ngay(end)},
        ledger=ledger,
        totals=[(name, f) for name, f in ledger.totals.items() if name != "all"],
        grand=ledger.totals["all"],
        days=days,
        hidden_rows=hidden,
        closed_days=len({row.date for row in ledger.rows if row.closed}),
        day_count=(end - start).days + 1,
        chart=Markup(ledger_chart(ledger)),  # noqa: S704 - ledger_chart escapes every text
        downloads=_downloads(start, end, kenh or ""),
    )
    return Template(template_name="ledger.html", context=context)


@get(DOWNLOAD_PATH, include_in_schema=False)
async def ledger_download(
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    clock: NamedDependency[Clock],
    tu: FromQuery[str | None] = None,
    den: FromQuery[str | None] = None,
    kenh: FromQuery[str | None] = None,
    dinh_dang: FromQuery[str] = "xlsx",
) -> Response[bytes]:
    """The page's range as CSV or XLSX, for the signed-in accountant (no API key needed)."""
    if dinh_dang not in ("csv", "xlsx"):
        reason = f"{dinh_dang!r} is not csv or xlsx"
        raise BadInput(f"dinh_dang: {reason}", [FieldError("dinh_dang", reason)])
    start, end = ledger_range(local_today(settings.timezone, clock), tu, den, None)
    ledger = await build_ledger(
        db_session=db_session,
        start=start,
        end=end,
        channels=selected_channels(kenh, list(settings.channels)),
    )
    disposition = f'attachment; filename="{export_filename(ledger, dinh_dang)}"'
    return Response(
        render_ledger(ledger, dinh_dang, ward_name=settings.ward_name),
        media_type=MEDIA_TYPES[dinh_dang],
        headers={"Content-Disposition": disposition},
    )
