"""One case's page `/hang-doi/{id}`: the explanation, the amounts, the lines (each with the
channel's raw payload in a `<details>`), the dossier with its fee and history, the candidate
dossiers of an owner-less payment (ranked by recon.cases.candidates), the action forms the
reader may use, and the case's history, oldest first.

Forms are shown by role: `accountant` and `approver` resolve a live case and reopen a resolved
one; an `approver` other than the one who asked approves or rejects a pending write-off;
`viewer` and `admin` see no form (and the server refuses their POST: recon.web.auth). Times are
shown in the ward's time zone.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from recon.cases.detail import OWNERLESS_TYPES, CaseView, case_view
from recon.errors import NotFound
from recon.settings import Settings
from recon.vocab import CASE_RESOLUTIONS, LINKABLE_CASE_TYPES
from recon.web.auth import WebUser
from recon.web.labels import LABELS
from recon.web.notice import read_notice, shown_once
from recon.web.queue import ACTING_ROLES, QUEUE_PATH

CASE_PATH = QUEUE_PATH + "/{case_id:int}"


def allowed_actions(case: CaseView, user: WebUser | None) -> dict[str, bool]:
    """Which forms the reader sees (DESIGN 4's who and when); the service decides anyway."""
    acting = user is not None and user.role in ACTING_ROLES
    approver = user is not None and user.role == "approver"
    pending = case.pending_resolution is not None
    return {
        "resolve": acting and case.live and not pending,
        "approve": approver and pending and user is not None and case.pending_by != user.username,
        "own_request": pending and user is not None and case.pending_by == user.username,
        "reopen": acting and case.status == "resolved",
    }


def resolutions_for(case: CaseView) -> list[str]:
    """`linked` only where a line's owner is being named (DESIGN 4)."""
    return [r for r in CASE_RESOLUTIONS if r != "linked" or case.type in LINKABLE_CASE_TYPES]


@get(CASE_PATH, include_in_schema=False)
async def case_page(
    request: Request[Any, Any, Any],
    case_id: FromPath[int],
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
) -> Response[Any]:
    user: WebUser | None = request.state.get("web_user")
    context: dict[str, Any] = {
        "ward_name": settings.ward_name,
        "labels": LABELS,
        "notice": read_notice(request),
    }
    try:
        case = await case_view(db_session=db_session, case_id=case_id)
    except NotFound:
        context["missing"] = case_id
        return shown_once(
            Template(template_name="case.html", context=context, status_code=404), request
        )
    tz = ZoneInfo(settings.timezone)
    prefill = case.candidates[0].dossier.dossier_code if case.candidates else ""
    context.update(
        case=case,
        tz=tz,
        actions=allowed_actions(case, user),
        resolutions=resolutions_for(case),
        ownerless=case.type in OWNERLESS_TYPES,
        prefill=prefill,
        threshold=settings.thresholds.write_off_approval,
    )
    return shown_once(Template(template_name="case.html", context=context), request)
