"""The login page `/dang-nhap` (GET the form, POST the credentials) and logout `POST /dang-xuat`.

A successful login starts a new session (recon.web.sessions; any session the browser came with
is revoked) and goes to `next` when it is a path of this site, else to `/`. A wrong password,
an unknown user and a disabled user get the same message after the same argon2 work (a decoy
hash for the unknown), off the event loop. Throttling (recon.web.throttle) answers 429 with the
form and a message saying when to try again.

The session cookie is HttpOnly and SameSite=Lax, `Secure` when the browser came over TLS
(`recon.web.auth.over_tls`), and lives as long as a session may (12 hours).
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy import select

from recon.auth.service import password_matches
from recon.clock import Clock
from recon.db.models import User
from recon.settings import Settings
from recon.vocab import ROLES
from recon.web.auth import LOGIN_PATH, LOGOUT_PATH, client_address, decoy_hash, over_tls
from recon.web.csrf import LOGIN_CSRF_COOKIE, expose_token, new_login_csrf_token
from recon.web.sessions import ABSOLUTE_TIMEOUT, SESSION_COOKIE, end_session, start_session
from recon.web.throttle import attempt_succeeded, begin_attempt, forget_attempt, locked_until

LANDING = "/"
WRONG = "Tên đăng nhập hoặc mật khẩu không đúng."
THROTTLED = (
    "Đăng nhập sai quá nhiều lần. Vì an toàn, tài khoản hoặc máy này tạm thời không thể "
    "đăng nhập; vui lòng thử lại sau {minutes} phút."
)
MISSING = "Vui lòng nhập tên đăng nhập và mật khẩu."


def safe_next(value: str | None) -> str:
    """`next` if it is a path of this site, else the landing page (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return LANDING
    if any(ord(c) < 0x20 or c == "\\" for c in value):
        return LANDING
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return LANDING
    return value


def _cookie(connection: Request[Any, Any, Any], key: str, value: str, max_age: int) -> Cookie:
    return Cookie(
        key=key,
        value=value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=over_tls(connection),
    )


def _form_page(
    request: Request[Any, Any, Any],
    settings: Settings,
    *,
    next_path: str,
    username: str = "",
    message: str | None = None,
    status_code: int = 200,
) -> Template:
    """The login form; a browser without a CSRF token of its own gets a new one."""
    cookies: list[Cookie] = []
    if not request.cookies.get(SESSION_COOKIE) and not request.cookies.get(LOGIN_CSRF_COOKIE):
        token = new_login_csrf_token()
        expose_token(request, token)
        cookies.append(
            _cookie(request, LOGIN_CSRF_COOKIE, token, int(ABSOLUTE_TIMEOUT.total_seconds()))
        )
    context = {
        "ward_name": settings.ward_name,
        "next": next_path,
        "username": username,
        "message": message,
    }
    return Template(
        template_name="login.html", context=context, status_code=status_code, cookies=cookies
    )


@get(LOGIN_PATH, name="login_page")
async def login_page(
    request: Request[Any, Any, Any],
    settings: NamedDependency[Settings],
    next_: Annotated[str | None, QueryParameter(name="next")] = None,
) -> Template:
    return _form_page(request, settings, next_path=safe_next(next_))


@post(LOGIN_PATH, name="login", status_code=303)
async def login(
    request: Request[Any, Any, Any],
    settings: NamedDependency[Settings],
    clock: NamedDependency[Clock],
) -> Response[Any]:
    form = await request.form()
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    next_path = safe_next(str(form.get("next") or ""))
    if not username or not password:
        return _form_page(
            request, settings, next_path=next_path, username=username, message=MISSING,
            status_code=400,
        )  # fmt: skip
    outcome = await _check_credentials(request, username, password, clock())
    if isinstance(outcome, datetime):
        minutes = max(1, math.ceil((outcome - clock()).total_seconds() / 60))
        page = _form_page(
            request, settings, next_path=next_path, username=username,
            message=THROTTLED.format(minutes=minutes), status_code=429,
        )  # fmt: skip
        page.headers["Retry-After"] = str(minutes * 60)
        return page
    if outcome is None:
        return _form_page(
            request, settings, next_path=next_path, username=username, message=WRONG,
            status_code=401,
        )  # fmt: skip
    attempt, user_id = outcome
    async with request.app.state.sessionmaker() as db_session:
        await attempt_succeeded(db_session=db_session, attempt_id=attempt)
        token = await start_session(
            db_session=db_session,
            user_id=user_id,
            now=clock(),
            address=client_address(request),
            user_agent=request.headers.get("user-agent", ""),
            replaces=request.cookies.get(SESSION_COOKIE),
        )
    cookies = [
        _cookie(request, SESSION_COOKIE, token, int(ABSOLUTE_TIMEOUT.total_seconds())),
        _cookie(request, LOGIN_CSRF_COOKIE, "", 0),
    ]
    return Redirect(next_path, status_code=303, cookies=cookies)


async def _check_credentials(
    request: Request[Any, Any, Any], username: str, password: str, now: datetime
) -> tuple[int, int] | datetime | None:
    """`(attempt id, user id)` when the password is right, the moment the throttle lifts when
    the attempt is refused, or None for wrong credentials (or an unknown or disabled user)."""
    state = request.app.state
    address = client_address(request)
    async with state.sessionmaker() as db_session:
        attempt = await begin_attempt(
            db_session=db_session, username=username, address=address, now=now
        )
    async with state.read_sessionmaker() as db_session:
        until = await locked_until(
            db_session=db_session, attempt_id=attempt, username=username, address=address, now=now
        )
        user = (
            await db_session.execute(select(User).where(User.username == username))
        ).scalar_one_or_none()
    if until is not None:
        async with state.sessionmaker() as db_session:
            await forget_attempt(db_session=db_session, attempt_id=attempt)
        return until
    # argon2 runs whether or not the user exists, so timing does not say who does
    stored = user.password_hash if user is not None else decoy_hash()
    matches = await asyncio.to_thread(password_matches, stored, password)
    if user is None or not matches or user.disabled_at is not None or user.role not in ROLES:
        return None
    return attempt, user.id


@post(LOGOUT_PATH, name="logout", status_code=303)
async def logout(request: Request[Any, Any, Any], clock: NamedDependency[Clock]) -> Response[Any]:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        async with request.app.state.sessionmaker() as db_session:
            await end_session(db_session=db_session, token=token, now=clock())
    return Redirect(LOGIN_PATH, status_code=303, cookies=[_cookie(request, SESSION_COOKIE, "", 0)])
