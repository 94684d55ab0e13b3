"""The case pages' forms: resolve, approve, reject, reopen, and resolve several at once.

Each POST calls the workflow (recon.cases.workflow) as the signed-in account and answers 303:
back to the case (or to the queue the bulk form came from) with a one-time notice saying what
was done, or why it was refused, in Vietnamese. The web router's guards come first: the CSRF
token (recon.web.csrf) and the role (recon.web.auth; approve and reject need an approver), so a
viewer's forged POST gets 403 before anything here runs. The workflow still checks everything
itself (role, state, maker-checker): a refusal changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from recon.cases import workflow
from recon.clock import Clock
from recon.db.models import Case
from recon.errors import BadInput, Conflict, Forbidden, NotFound, ReconError
from recon.settings import Settings
from recon.web.auth import WebUser, over_tls
from recon.web.labels import RESOLUTION_LABELS, STATUS_LABELS
from recon.web.notice import notice_cookie
from recon.web.queue import QUEUE_PATH

BULK_PATH = QUEUE_PATH + "/xu-ly-hang-loat"
APPROVER_ONLY = {"roles": ("approver",)}

# the workflow's reasons (English, for the API and the CLI) as the accountant reads them
REASONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"a note is required"), "Vui lòng nhập ghi chú: mọi thao tác đều cần ghi chú."),
    (re.compile(r"`linked` needs the code"), "Gắn với hồ sơ cần mã hồ sơ."),
    (re.compile(r"is not one of"), "Cách xử lý không hợp lệ."),
    (re.compile(r"name at least one case"), "Chưa chọn vụ việc nào."),
    (re.compile(r"at most ([\d,]+) cases"), "Mỗi lần xử lý tối đa {0} vụ việc."),
    (re.compile(r"no case with id (\d+)"), "Không tìm thấy vụ việc #{0}."),
    (re.compile(r"no dossier '(.*)'"), "Không có hồ sơ mã “{0}”."),
    (
        re.compile(r"case (\d+) is (\w+): only a live case is resolved"),
        "Vụ việc #{0} {1}: chỉ xử lý được vụ việc đang mở.",
    ),
    (re.compile(r"case (\d+) awaits an approver"), "Vụ việc #{0} đang chờ duyệt xóa sổ."),
    (
        re.compile(r"case (\d+) is (\w+): `linked` is for"),
        "Vụ việc #{0} không phải khoản tiền chưa rõ chủ: không gắn với hồ sơ được.",
    ),
    (
        re.compile(r"case (\d+) has no write-off awaiting"),
        "Vụ việc #{0} không có yêu cầu xóa sổ nào đang chờ duyệt.",
    ),
    (
        re.compile(r"case (\d+) is (\w+): only a resolved case is reopened"),
        "Vụ việc #{0} {1}: chỉ mở lại được vụ việc đã xử lý.",
    ),
    (
        re.compile(r"asked for this write-off"),
        "Bạn là người yêu cầu xóa sổ này: một người duyệt khác phải quyết định.",
    ),
    (
        re.compile(r"needs the role|no active account"),
        "Vai trò của bạn không được làm thao tác này.",
    ),
]
REFUSED_BY_KIND = {
    BadInput: "Thông tin chưa hợp lệ",
    Forbidden: "Không được phép",
    NotFound: "Không tìm thấy",
    Conflict: "Không thực hiện được",
}


def _status_word(word: str) -> str:
    return STATUS_LABELS.get(word, word).lower()


def vietnamese_reason(error: ReconError) -> str:
    """The refusal in Vietnamese: each reason the workflow gave, translated where known."""
    reasons = [e.reason for e in error.errors] or [error.detail]
    said: list[str] = []
    for reason in reasons:
        for pattern, text in REASONS:
            found = pattern.search(reason)
            if found:
                groups = found.groups()
                shown = [groups[0], *(_status_word(g) for g in groups[1:])] if groups else []
                said.append(text.format(*shown))
                break
        else:
            kind = next((v for k, v in REFUSED_BY_KIND.items() if isinstance(error, k)), "Lỗi")
            said.append(f"{kind}: {reason}")
    return " ".join(dict.fromkeys(said))


def _back(
    request: Request[Any, Any, Any], path: str, kind: Literal["ok", "error"], text: str
) -> Response[Any]:
    cookie = notice_cookie(kind, text, secure=over_tls(request))
    return Redirect(path, status_code=303, cookies=[cookie])


def _user(request: Request[Any, Any, Any]) -> WebUser:
    user: WebUser = request.state.web_user
    return user


async def _form(request: Request[Any, Any, Any]) -> dict[str, Any]:
    form = await request.form()
    return {"form": form, "note": str(form.get("note") or "")}


def _resolution_args(form: Any) -> tuple[str, str | None]:
    """The resolution, and the dossier code only with `linked` (the field is always there)."""
    resolution = str(form.get("resolution") or "")
    code = str(form.get("dossier_code") or "").strip()
    return resolution, (code or "") if resolution == "linked" else None


async def _pending_of(db_session: AsyncSession, ids: list[int]) -> int:
    query = select(Case.id).where(Case.id.in_(ids), Case.pending_resolution.is_not(None))
    return len((await db_session.execute(query)).all())


async def _on_one(
    act: Callable[..., Awaitable[int]],
    request: Request[Any, Any, Any],
    case_id: int,
    db_session: AsyncSession,
    clock: Clock,
    done: str,
    **more: Any,
) -> Response[Any]:
    """Approve, reject or reopen one case as the person logged in, with the form's note; back to
    the case page with `done`, or with the refusal's reason in Vietnamese."""
    got = await _form(request)
    try:
        await act(
            db_session=db_session,
            case_id=case_id,
            username=_user(request).username,
            note=got["note"],
            now=clock(),
            **more,
        )
    except ReconError as exc:
        return _back(request, _case_path(case_id), "error", vietnamese_reason(exc))
    return _back(request, _case_path(case_id), "ok", done)


def _case_path(case_id: int) -> str:
    return f"{QUEUE_PATH}/{case_id}"


@post(QUEUE_PATH + "/{case_id:int}/xu-ly", include_in_schema=False, status_code=303)
async def resolve_case(
    request: Request[Any, Any, Any],
    case_id: FromPath[int],
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    clock: NamedDependency[Clock],
) -> Response[Any]:
    got = await _form(request)
    resolution, code = _resolution_args(got["form"])
    try:
        await workflow.resolve(
            db_session=db_session,
            case_ids=[case_id],
            resolution=resolution,
            username=_user(request).username,
            note=got["note"],
            dossier_code=code,
            settings=settings,
            now=clock(),
        )
    except ReconError as exc:
        return _back(request, _case_path(case_id), "error", vietnamese_reason(exc))
    if await _pending_of(db_session, [case_id]):
        text = f"Đã gửi yêu cầu xóa sổ vụ việc #{case_id}; vụ việc chờ người duyệt."
    elif code:
        text = f"Đã gắn khoản tiền của vụ việc #{case_id} với hồ sơ {code}."
    else:
        label = RESOLUTION_LABELS.get(resolution, resolution).lower()
        text = f"Đã xử lý vụ việc #{case_id}: {label}."
    return _back(request, _case_path(case_id), "ok", text)


@post(BULK_PATH, include_in_schema=False, status_code=303)
async def resolve_cases(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    clock: NamedDependency[Clock],
) -> Response[Any]:
    got = await _form(request)
    form = got["form"]
    back = str(form.get("back") or QUEUE_PATH)
    if not back.startswith(QUEUE_PATH) or back.startswith(QUEUE_PATH + "//"):
        back = QUEUE_PATH  # only ever back to the queue: no redirect elsewhere
    raw_ids = [str(v) for v in form.getall("ids")] if "ids" in form else []
    if not all(v.isdigit() for v in raw_ids):
        return _back(request, back, "error", "Danh sách vụ việc không hợp lệ.")
    ids = [int(v) for v in raw_ids]
    resolution, code = _resolution_args(form)
    try:
        await workflow.resolve(
            db_session=db_session,
            case_ids=ids,
            resolution=resolution,
            username=_user(request).username,
            note=got["note"],
            dossier_code=code,
            settings=settings,
            now=clock(),
        )
    except ReconError as exc:
        text = "Không vụ việc nào được xử lý. " + vietnamese_reason(exc)
        return _back(request, back, "error", text)
    waiting = await _pending_of(db_session, ids)
    label = RESOLUTION_LABELS.get(resolution, resolution).lower()
    text = f"Đã xử lý {len(ids) - waiting} vụ việc: {label}."
    if waiting:
        text += f" {waiting} vụ việc xóa sổ vượt ngưỡng đang chờ người duyệt."
    return _back(request, back, "ok", text)


@post(
    QUEUE_PATH + "/{case_id:int}/duyet", include_in_schema=False, status_code=303, opt=APPROVER_ONLY
)
async def approve_case(
    request: Request[Any, Any, Any],
    case_id: FromPath[int],
    db_session: NamedDependency[AsyncSession],
    clock: NamedDependency[Clock],
) -> Response[Any]:
    done = f"Đã duyệt xóa sổ vụ việc #{case_id}."
    return await _on_one(workflow.approve, request, case_id, db_session, clock, done)


@post(
    QUEUE_PATH + "/{case_id:int}/tu-choi",
    include_in_schema=False,
    status_code=303,
    opt=APPROVER_ONLY,
)
async def reject_case(
    request: Request[Any, Any, Any],
    case_id: FromPath[int],
    db_session: NamedDependency[AsyncSession],
    clock: NamedDependency[Clock],
) -> Response[Any]:
    done = f"Đã từ chối yêu cầu xóa sổ vụ việc #{case_id}; vụ việc vẫn mở."
    return await _on_one(workflow.reject, request, case_id, db_session, clock, done)


@post(QUEUE_PATH + "/{case_id:int}/mo-lai", include_in_schema=False, status_code=303)
async def reopen_case(
    request: Request[Any, Any, Any],
    case_id: FromPath[int],
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    clock: NamedDependency[Clock],
) -> Response[Any]:
    done = f"Đã mở lại vụ việc #{case_id}."
    return await _on_one(
        workflow.reopen, request, case_id, db_session, clock, done, settings=settings
    )


ACTION_HANDLERS = [resolve_case, resolve_cases, approve_case, reject_case, reopen_case]
