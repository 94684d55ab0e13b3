"""The accountant's queue `/hang-doi`, the landing page: live cases, their counts per type,
filters, sort, pages, a "Chờ duyệt" tab of write-offs awaiting an approver, and a form that
resolves the ticked cases together (recon.web.actions).

`GET /hang-doi?loai=T&kenh=C&tu=dd/mm/yyyy&den=…&tien_tu=N&tien_den=N&tim=TEXT&sap=ngay|tien|loai
&chieu=giam|tang&trang=N&tab=cho-duyet`. Dates as the ledger page takes them (`dd/mm/yyyy` or
ISO); amounts (of the amount at stake) with or without dots; `tim` finds a dossier code, words of
the explanation or part of a transaction id. A bad value answers 400 with the page and a
Vietnamese message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from recon.cases.queue import PAGE_SIZE, QueueFilter, QueuePage, Sort, queue_page
from recon.dates import iso_date
from recon.errors import BadInput
from recon.settings import Settings
from recon.vocab import CASE_RESOLUTIONS, CASE_TYPES
from recon.web.auth import WebUser
from recon.web.controllers import DAY_MONTH_YEAR
from recon.web.format import ngay
from recon.web.labels import LABELS
from recon.web.notice import read_notice, shown_once

QUEUE_PATH = "/hang-doi"
PENDING_TAB = "cho-duyet"
SORT_PARAMS: dict[str, Sort] = {"ngay": "date", "tien": "amount", "loai": "type"}
PARAMS = ("tab", "loai", "kenh", "tu", "den", "tien_tu", "tien_den", "tim", "sap", "chieu")
MAX_TEXT = 100
ACTING_ROLES = ("accountant", "approver")


def form_day(text: str, label: str) -> date:
    """`dd/mm/yyyy` as the form shows it, or ISO `YYYY-MM-DD` as links write it."""
    try:
        found = DAY_MONTH_YEAR.fullmatch(text.strip())
        if found:
            day, month, year = (int(part) for part in found.groups())
            return date(year, month, day)
        return iso_date(text.strip())
    except ValueError:
        raise BadInput(f"{label}: “{text}” không phải là một ngày hợp lệ (dd/mm/yyyy).") from None


def form_amount(text: str, label: str) -> int:
    """`1.234.567`, `1234567` or `1.234.567 ₫` as an int of VND."""
    digits = re.sub(r"[\s.,₫đ]", "", text.strip().lower())
    if not digits.isdigit() or len(digits) > 15:
        raise BadInput(f"{label}: “{text}” không phải là một số tiền hợp lệ.")
    return int(digits)


def queue_filter(params: Mapping[str, str], channels: list[str]) -> QueueFilter:
    """The page's query parameters checked, as the queue's filter (BadInput in Vietnamese)."""
    case_type = params.get("loai") or None
    if case_type is not None and case_type not in CASE_TYPES:
        raise BadInput(f"Không có loại vụ việc “{case_type}”.")
    channel = params.get("kenh") or None
    if channel is not None and channel not in channels:
        raise BadInput(f"Không có kênh “{channel}”.")
    start = form_day(params["tu"], "Từ ngày") if params.get("tu") else None
    end = form_day(params["den"], "Đến ngày") if params.get("den") else None
    if start and end and end < start:
        raise BadInput(f"Đến ngày {ngay(end)} đứng trước Từ ngày {ngay(start)}.")
    low = form_amount(params["tien_tu"], "Chênh lệch từ") if params.get("tien_tu") else None
    high = form_amount(params["tien_den"], "Chênh lệch đến") if params.get("tien_den") else None
    if low is not None and high is not None and high < low:
        raise BadInput("Chênh lệch đến phải lớn hơn hoặc bằng chênh lệch từ.")
    sort = params.get("sap") or "ngay"
    if sort not in SORT_PARAMS:
        raise BadInput(f"Không sắp xếp được theo “{sort}”.")
    page = params.get("trang") or "1"
    if not page.isdigit() or not 1 <= int(page) <= 1_000_000:
        raise BadInput(f"Trang “{page}” không hợp lệ.")
    text = (params.get("tim") or "").strip()[:MAX_TEXT] or None
    return QueueFilter(
        tab="pending" if params.get("tab") == PENDING_TAB else "live",
        case_type=case_type,
        channel=channel,
        start=start,
        end=end,
        min_amount=low,
        max_amount=high,
        text=text,
        sort=SORT_PARAMS[sort],
        descending=params.get("chieu") != "tang",
        page=int(page),
    )


def linker(given: Mapping[str, str]) -> Callable[..., str]:
    """`link(trang=2, loai=None)`: this page's URL with some parameters changed (None drops
    one); any change but the page's number goes back to page 1."""
    kept = {k: given[k] for k in PARAMS if given.get(k)}

    def link(**changes: str | int | None) -> str:
        params: dict[str, Any] = {**kept, **changes}
        if "trang" not in changes:
            params.pop("trang", None)
        shown = {k: v for k, v in params.items() if v not in (None, "")}
        return f"{QUEUE_PATH}?{urlencode(shown)}" if shown else QUEUE_PATH

    return link


def page_context(
    request: Request[Any, Any, Any], settings: Settings, given: Mapping[str, str]
) -> dict[str, Any]:
    user: WebUser | None = request.state.get("web_user")
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return {
        "ward_name": settings.ward_name,
        "labels": LABELS,
        "case_types": CASE_TYPES,
        "resolutions": CASE_RESOLUTIONS,
        "channels": list(settings.channels),
        "form": {k: given.get(k, "") for k in PARAMS},
        "link": linker(given),
        "pending_tab": PENDING_TAB,
        "back_url": here,
        "can_act": user is not None and user.role in ACTING_ROLES,
        "is_approver": user is not None and user.role == "approver",
        "notice": read_notice(request),
        "threshold": settings.thresholds.write_off_approval,
    }


@get(QUEUE_PATH, include_in_schema=False)
async def queue_page_view(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
) -> Response[Any]:
    given = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
    context = page_context(request, settings, given)
    try:
        wanted = queue_filter(given, list(settings.channels))
    except BadInput as exc:
        empty = QueuePage(rows=[], counts_by_type={}, pending=0, total=0, page=1, pages=1)
        context.update(error=exc.detail, queue=empty, wanted=QueueFilter())
        page = Template(template_name="queue.html", context=context, status_code=400)
        return shown_once(page, request)
    queue = await queue_page(db_session=db_session, wanted=wanted)
    context.update(queue=queue, wanted=wanted, page_size=PAGE_SIZE)
    return shown_once(Template(template_name="queue.html", context=context), request)
