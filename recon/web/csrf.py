"""CSRF protection of every form of the web pages (synchronizer token, bound to the session).

A form carries the token in the hidden field `_csrf_token` (templates write
`{{ csrf_input | safe }}`, Litestar's own name for it; a script may send the `X-CSRFToken`
header instead). The token is an HMAC of the browser's session token, so only a page served to
that session can know it, and a new login changes it; nothing is stored for it. The login form,
which comes before any session, uses a random token kept in its own cookie (`recon_csrf`) and
sent back with the form (double submit). A POST (or any method but GET, HEAD and OPTIONS) whose
token is missing or wrong gets 403 before anything else runs.

Why not Litestar's `CSRFConfig`: it signs its token with a secret recon has nowhere to keep
(a per-process secret would make every open form fail after a restart, and the middleware never
replaces a cookie it can no longer verify, so the browser would stay refused until closed); and
its token is not tied to the login. The API under /api/v1 is not guarded by this: it takes
bearer keys, never cookies, so a browser cannot be made to send its credentials.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.utils.scope.state import ScopeState

from recon.web.sessions import SESSION_COOKIE

CSRF_FIELD = "_csrf_token"
CSRF_HEADER = "x-csrftoken"
LOGIN_CSRF_COOKIE = "recon_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_REFUSED = (
    "Biểu mẫu đã hết hạn hoặc không hợp lệ (thiếu mã chống giả mạo). "
    "Vui lòng tải lại trang rồi thử lại."
)


def session_csrf_token(session_token: str) -> str:
    return hmac.new(session_token.encode(), b"recon csrf", hashlib.sha256).hexdigest()


def new_login_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def expected_token(connection: ASGIConnection) -> str | None:  # type: ignore[type-arg]
    """The token a form from this browser must carry: its session's, or its login form's."""
    session_token = connection.cookies.get(SESSION_COOKIE)
    if session_token:
        return session_csrf_token(session_token)
    return connection.cookies.get(LOGIN_CSRF_COOKIE) or None


def expose_token(connection: ASGIConnection, token: str) -> None:  # type: ignore[type-arg]
    """Make the token the templates' `csrf_input` and `csrf_token()`."""
    ScopeState.from_scope(connection.scope).csrf_token = token


async def require_csrf(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # type: ignore[type-arg]
    """Guard of every web route: a changing request must carry the token, or 403."""
    expected = expected_token(connection)
    if connection.scope.get("method", "GET") in SAFE_METHODS:
        if expected:
            expose_token(connection, expected)
        return
    submitted: object = connection.headers.get(CSRF_HEADER)
    if not submitted and isinstance(connection, Request):
        submitted = (await connection.form()).get(CSRF_FIELD)
    if (
        not expected
        or not isinstance(submitted, str)
        or not hmac.compare_digest(submitted.encode(), expected.encode())
    ):
        raise PermissionDeniedException(detail=CSRF_REFUSED)
    expose_token(connection, expected)
