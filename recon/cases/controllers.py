"""The mismatch queue over HTTP: `GET /api/v1/cases` and `GET /api/v1/cases/{id}` (cases:read);
acting on cases (cases:write): `POST /api/v1/cases/{id}/resolve|approve|reject|reopen` and
`POST /api/v1/cases:resolve` (DESIGN 6).

The key authorises the calling service; `user` names the person acting, whose role is checked
as on the command line (DESIGN 4). Bodies are decoded strictly (`SkipValidation` documents
them; `_body` converts): a body of the wrong shape is 400, a value the workflow refuses 422.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter, SkipValidation
from sqlalchemy.ext.asyncio import AsyncSession

from recon.cases import workflow
from recon.cases.schemas import (
    STATUS_FILTERS,
    BulkResolveIn,
    CaseActionIn,
    CaseDetail,
    CaseList,
    CasePage,
    ResolveIn,
)
from recon.cases.service import MAX_PAGE, check_filter, get_case, get_case_list, list_cases
from recon.clock import Clock
from recon.dates import parse_optional_date
from recon.domain import MAX_ID
from recon.errors import FieldError, MalformedBody
from recon.settings import Settings
from recon.vocab import CASE_TYPES

READ = {"scope": "cases:read"}
WRITE = {"scope": "cases:write"}
T = TypeVar("T")


@get("/cases", opt=READ, summary="List cases: live ones by default, newest last")
async def get_cases(
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    status: Annotated[
        str,
        QueryParameter(
            enum=STATUS_FILTERS, description="open (live: open and reopened), resolved, closed, all"
        ),
    ] = "open",
    day: Annotated[
        str | None, QueryParameter(name="date", format="date", description="Business day")
    ] = None,
    case_type: Annotated[str | None, QueryParameter(name="type", enum=CASE_TYPES)] = None,
    channel: Annotated[str | None, QueryParameter()] = None,
    cursor: Annotated[
        int | None,
        QueryParameter(
            ge=0,
            le=MAX_ID,
            description="`next_cursor` of the page before",
            schema_extra={"minimum": 0},  # Litestar leaves a bound of 0 out
        ),
    ] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 100,
) -> CasePage:
    wanted = check_filter(
        status=status,
        day=parse_optional_date(day, "date"),
        case_type=case_type,
        channel=channel,
        channels=settings.channel_names(),
        prefix="",  # the query parameters' names, not the CLI's options
    )
    return await list_cases(db_session=db_session, wanted=wanted, after=cursor, limit=limit)


@get("/cases/{case_id:int}", opt=READ, summary="One case: lines, dossier, explanation, history")
async def get_one_case(
    case_id: FromPath[int], db_session: NamedDependency[AsyncSession]
) -> CaseDetail:
    return await get_case(db_session=db_session, case_id=case_id)


# --- acting on cases ----------------------------------------------------------------------


def _body(body: Any, shape: type[T]) -> T:
    """The decoded body converted strictly: `"5"` is no id, an unknown field is refused."""
    try:
        return msgspec.convert(body, shape, strict=True)
    except msgspec.ValidationError as exc:
        reason = str(exc)
        raise MalformedBody(reason, [FieldError(_field_of(reason), reason)]) from None


def _field_of(reason: str) -> str:
    """The field msgspec's message names: "… - at `$.user`", "… required field `note`"."""
    found = re.search(r"at `\$\.(\w+)|field `(\w+)`", reason)
    return next((name for name in found.groups() if name), "body") if found else "body"


async def _on_one(
    act: Callable[..., Awaitable[int]],
    case_id: int,
    data: Any,
    request: Request[Any, Any, Any],
    db_session: AsyncSession,
    clock: Clock,
    **more: Any,
) -> CaseDetail:
    """Approve, reject or reopen (one body, `{"user", "note"}`), then the case as it now is."""
    body = _body(data, CaseActionIn)
    await act(
        db_session=db_session,
        case_id=case_id,
        username=body.user,
        note=body.note,
        now=clock(),
        via=_via(request),
        **more,
    )
    return await get_case(db_session=db_session, case_id=case_id)


def _via(request: Request[Any, Any, Any]) -> str:
    principal = request.state.get("principal")
    return f"api:{principal.name}" if principal else "api"


ACTED = "The case after the action"
REFUSALS = (
    "403 when the account may not act (role, maker-checker), 404 for an unknown case or "
    "dossier, 409 when the case's state refuses the action, 422 for a bad value"
)


@post(
    "/cases/{case_id:int}/resolve",
    opt=WRITE,
    status_code=200,
    summary="Resolve a live case",
    description=(
        "`linked` (with `dossier_code`, for an owner-less payment) gives the line to that "
        "dossier in every later run and re-judges the dossier at once; a `written_off` above "
        "`thresholds.write_off_approval` waits for an approver (`pending_resolution`). " + REFUSALS
    ),
    response_description=ACTED,
)
async def post_resolve_case(
    case_id: FromPath[int],
    data: SkipValidation[ResolveIn],
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    clock: NamedDependency[Clock],
) -> CaseDetail:
    body = _body(data, ResolveIn)
    await workflow.resolve(
        db_session=db_session,
        case_ids=[case_id],
        resolution=body.resolution,
        username=body.user,
        note=body.note,
        dossier_code=body.dossier_code,
        settings=settings,
        now=clock(),
        via=_via(request),
    )
    return await get_case(db_session=db_session, case_id=case_id)


@post(
    "/cases:resolve",
    opt=WRITE,
    status_code=200,
    summary="Resolve several live cases alike: all or none",
    description="One resolution and one note for every case named. " + REFUSALS,
    response_description="The cases after the action, in the order named",
)
async def post_resolve_cases(
    data: SkipValidation[BulkResolveIn],
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    clock: NamedDependency[Clock],
) -> CaseList:
    body = _body(data, BulkResolveIn)
    ids = await workflow.resolve(
        db_session=db_session,
        case_ids=body.ids,
        resolution=body.resolution,
        username=body.user,
        note=body.note,
        dossier_code=body.dossier_code,
        settings=settings,
        now=clock(),
        via=_via(request),
    )
    return await get_case_list(db_session=db_session, case_ids=ids)


@post(
    "/cases/{case_id:int}/approve",
    opt=WRITE,
    status_code=200,
    summary="Approve a write-off awaiting an approver",
    description="By an `approver` who did not ask for it. " + REFUSALS,
    response_description=ACTED,
)
async def post_approve_case(
    case_id: FromPath[int],
    data: SkipValidation[CaseActionIn],
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    clock: NamedDependency[Clock],
) -> CaseDetail:
    return await _on_one(workflow.approve, case_id, data, request, db_session, clock)


@post(
    "/cases/{case_id:int}/reject",
    opt=WRITE,
    status_code=200,
    summary="Turn down a write-off awaiting an approver",
    description="The case stays live. By an `approver` who did not ask for it. " + REFUSALS,
    response_description=ACTED,
)
async def post_reject_case(
    case_id: FromPath[int],
    data: SkipValidation[CaseActionIn],
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    clock: NamedDependency[Clock],
) -> CaseDetail:
    return await _on_one(workflow.reject, case_id, data, request, db_session, clock)


@post(
    "/cases/{case_id:int}/reopen",
    opt=WRITE,
    status_code=200,
    summary="Reopen a resolved case",
    description="It becomes `reopened` (live), its resolution cleared; a link is undone. "
    + REFUSALS,
    response_description=ACTED,
)
async def post_reopen_case(
    case_id: FromPath[int],
    data: SkipValidation[CaseActionIn],
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    clock: NamedDependency[Clock],
) -> CaseDetail:
    return await _on_one(
        workflow.reopen, case_id, data, request, db_session, clock, settings=settings
    )
