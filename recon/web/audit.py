"""The audit page `/nhat-ky`: every case event, newest first, by person, case and day.

`GET /nhat-ky?nguoi=USERNAME|@he-thong&vu_viec=ID&ngay=dd/mm/yyyy&truoc=EVENT_ID`: `nguoi`
names an account, or the engine ("Hệ thống"); `ngay` is a day in the ward's time zone; `truoc`
is the cursor of the older page. A bad value answers 400 with the page and a Vietnamese message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from recon.cases.audit import ENGINE, AuditFilter, AuditPage, audit_page, usernames
from recon.domain import MAX_ID
from recon.errors import BadInput
from recon.settings import Settings
from recon.web.labels import LABELS
from recon.web.queue import form_day

AUDIT_PATH = "/nhat-ky"
PARAMS = ("nguoi", "vu_viec", "ngay")


def _id(text: str, label: str) -> int:
    text = text.strip().lstrip("#")
    if not text.isdigit() or not 1 <= int(text) <= MAX_ID:
        raise BadInput(f"{label}: “{text}” không phải là một số hợp lệ.")
    return int(text)


def audit_filter(params: Mapping[str, str]) -> AuditFilter:
    return AuditFilter(
        actor=params.get("nguoi") or None,
        case_id=_id(params["vu_viec"], "Vụ việc") if params.get("vu_viec") else None,
        day=form_day(params["ngay"], "Ngày") if params.get("ngay") else None,
        before=_id(params["truoc"], "Trang") if params.get("truoc") else None,
    )


@get(AUDIT_PATH, include_in_schema=False)
async def audit_page_view(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
) -> Response[Any]:
    given = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
    kept = {k: given[k] for k in PARAMS if given.get(k)}
    context: dict[str, Any] = {
        "ward_name": settings.ward_name,
        "labels": LABELS,
        "tz": ZoneInfo(settings.timezone),
        "form": {k: given.get(k, "") for k in PARAMS},
        "engine": ENGINE,
        "people": await usernames(db_session=db_session),
        "first_link": f"{AUDIT_PATH}?{urlencode(kept)}" if kept else AUDIT_PATH,
        "paged": bool(given.get("truoc")),
    }
    try:
        wanted = audit_filter(given)
    except BadInput as exc:
        context.update(error=exc.detail, audit=AuditPage(rows=[], next_before=None))
        return Template(template_name="audit.html", context=context, status_code=400)
    found = await audit_page(db_session=db_session, wanted=wanted, tz=context["tz"])
    older = None
    if found.next_before is not None:
        older = f"{AUDIT_PATH}?{urlencode({**kept, 'truoc': found.next_before})}"
    context.update(audit=found, older_link=older)
    return Template(template_name="audit.html", context=context)
