"""Who may see and change the web pages: the session guard and the role checks.

Every page is behind `require_web_user` (the web router's guard): a browser without a live
session (recon.web.sessions) is sent to the login page, `303 /dang-nhap?next=<path>` for a GET;
with one, `connection.state.web_user` is the `WebUser` reading the page.

Roles (DESIGN 4): `accountant` and `approver` change things; `viewer` and `admin` read only.
The guard refuses with 403 any request that could change something (any method but GET, HEAD
and OPTIONS) from a role outside the handler's `opt["roles"]`, `CHANGE_ROLES` by default, so
a new POST handler is closed to viewers without anyone remembering to close it. A handler
narrows it with `opt={"roles": ("approver",)}` or with the guard `require_role("approver")`;
templates ask `may_change(web_user)` to decide whether to show a form at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response, Router
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect, Template
from litestar.types import ExceptionHandlersMap

from recon.auth.service import hash_password
from recon.clock import Clock
from recon.web.csrf import SAFE_METHODS, require_csrf
from recon.web.sessions import (
    SESSION_COOKIE,
    TOUCH_EVERY,
    find_session,
    revoke_user_sessions,
    touch_session,
)

LOGIN_PATH = "/dang-nhap"
LOGOUT_PATH = "/dang-xuat"
CHANGE_ROLES = ("accountant", "approver")
ROLE_LABELS = {
    "accountant": "Kế toán",
    "approver": "Người duyệt",
    "viewer": "Người xem",
    "admin": "Quản trị",
}
ROLE_REFUSED = "Vai trò của bạn ({role}) không được phép thực hiện thao tác này."

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


class WebUser(msgspec.Struct, frozen=True):
    """Who is reading the page."""

    username: str
    role: str

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


class LoginRequired(NotAuthorizedException):
    """No live session: the web routers answer it with a redirect to the login page."""

    def __init__(self, next_path: str | None) -> None:
        super().__init__(detail="Vui lòng đăng nhập.")
        self.next_path = next_path


@cache
def decoy_hash() -> str:
    """A hash to check against when the user is unknown, costing as much as a real one."""
    return hash_password("no user has this password")


def over_tls(connection: ASGIConnection) -> bool:  # type: ignore[type-arg]
    """Whether the browser reached us over TLS, so the cookies get `Secure`: the request's
    scheme is https (uvicorn sets it from X-Forwarded-Proto for a proxy it trusts), or the
    request says X-Forwarded-Proto: https. Believing that header from anyone errs toward
    `Secure`: a client lying about it only stops its own cookies being sent back over http."""
    forwarded = connection.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return connection.url.scheme == "https" or forwarded == "https"


def client_address(connection: ASGIConnection) -> str:  # type: ignore[type-arg]
    """The peer's address (behind a proxy, the one uvicorn's proxy headers give)."""
    return connection.client.host if connection.client else "unknown"


def may_change(user: WebUser | None, roles: tuple[str, ...] = CHANGE_ROLES) -> bool:
    """Whether the user may send the forms that change things (for templates)."""
    return user is not None and user.role in roles


def _refuse_role(user: WebUser) -> PermissionDeniedException:
    return PermissionDeniedException(detail=ROLE_REFUSED.format(role=user.role_label))


async def require_web_user(connection: ASGIConnection, route_handler: BaseRouteHandler) -> None:  # type: ignore[type-arg]
    """Guard of the web pages: a live session, else the login page; a changing request also
    needs one of the handler's roles (`opt["roles"]`, by default `CHANGE_ROLES`), else 403."""
    token = connection.cookies.get(SESSION_COOKIE)
    live = None
    if token:
        state = connection.app.state
        clock: Clock = state.clock
        now = clock()
        async with state.read_sessionmaker() as db_session:
            live, disabled_user = await find_session(db_session=db_session, token=token, now=now)
        if disabled_user is not None:
            async with state.sessionmaker() as db_session:
                await revoke_user_sessions(db_session=db_session, user_id=disabled_user, now=now)
        if live is not None and now - live.last_seen_at >= TOUCH_EVERY:
            async with state.sessionmaker() as db_session:
                await touch_session(db_session=db_session, live=live, now=now)
    method = connection.scope.get("method", "GET")
    if live is None:
        raise LoginRequired(_here(connection) if method in ("GET", "HEAD") else None)
    user = WebUser(live.username, live.role)
    connection.state.web_user = user
    if method not in SAFE_METHODS and user.role not in route_handler.opt.get("roles", CHANGE_ROLES):
        raise _refuse_role(user)


def require_role(*roles: str) -> Guard:
    """A guard, after `require_web_user`, letting only these roles through (else 403), for
    any method: `@post("/…", guards=[require_role("approver")])`."""

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # type: ignore[type-arg]
        user: WebUser | None = connection.state.get("web_user")
        if user is None:
            raise LoginRequired(None)
        if user.role not in roles:
            raise _refuse_role(user)

    return guard


def _here(connection: ASGIConnection) -> str:  # type: ignore[type-arg]
    query = connection.scope.get("query_string", b"").decode("latin-1")
    return connection.url.path + (f"?{query}" if query else "")


def login_url(next_path: str | None) -> str:
    return f"{LOGIN_PATH}?{urlencode({'next': next_path})}" if next_path else LOGIN_PATH


def redirect_to_login(_: Request[Any, Any, Any], exc: LoginRequired) -> Response[Any]:
    return Redirect(login_url(exc.next_path), status_code=303)


def refuse_page(request: Request[Any, Any, Any], exc: PermissionDeniedException) -> Response[Any]:
    """403 (a role, or a form without its CSRF token) as a page, not the API's JSON."""
    context = {"ward_name": request.app.state.settings.ward_name, "message": exc.detail}
    return Template(template_name="refused.html", context=context, status_code=403)


WEB_EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    LoginRequired: redirect_to_login,
    PermissionDeniedException: refuse_page,
}


def web_router(route_handlers: list[Any], *, signed_in: bool = True) -> Router:
    """The web pages' router: CSRF on every form, and (`signed_in`) a live session with the
    role checks above; refusals as pages, a stranger sent to the login page."""
    guards: list[Guard] = [require_csrf, require_web_user] if signed_in else [require_csrf]
    return Router(
        path="/",
        guards=guards,
        route_handlers=route_handlers,
        exception_handlers=WEB_EXCEPTION_HANDLERS,
        include_in_schema=False,
    )
