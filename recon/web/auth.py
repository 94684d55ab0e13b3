"""Interim access to the web pages: HTTP Basic authentication against the `users` table.

Until the web UI has login pages, the browser's own Basic prompt asks for a user created with
`recon users create`; every active user may read, whatever the role. The password is checked
with argon2 on every request (off the event loop), and an unknown user costs the same as a
wrong password so that timing does not reveal who exists. Basic authentication sends the
password with each request: serve the pages over TLS or on localhost only.

This is a stopgap: when the web UI grows pages that change anything, a session login with
CSRF protection (and role checks per page) replaces this guard.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from functools import cache

import msgspec
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler

from recon.auth.service import find_user, hash_password, password_matches
from recon.errors import NotFound
from recon.vocab import ROLES

CHALLENGE = 'Basic realm="recon", charset="UTF-8"'


class WebUser(msgspec.Struct, frozen=True):
    """Who is reading the page."""

    username: str
    role: str


@cache
def _decoy_hash() -> str:
    """A hash to check against when the user is unknown, costing as much as a real one."""
    return hash_password("no user has this password")


def basic_credentials(header: str) -> tuple[str, str] | None:
    """`(username, password)` from an `Authorization: Basic …` header, or None."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    if not sep or not username.strip():
        return None
    return username, password


def _challenge(detail: str) -> NotAuthorizedException:
    return NotAuthorizedException(detail=detail, headers={"WWW-Authenticate": CHALLENGE})


async def require_web_user(connection: ASGIConnection, route_handler: BaseRouteHandler) -> None:  # type: ignore[type-arg]
    """Guard for the web pages: a known, active user with a role, or 401 with a challenge."""
    credentials = basic_credentials(connection.headers.get("authorization", ""))
    if credentials is None:
        raise _challenge("Vui lòng đăng nhập bằng tài khoản recon để xem trang này.")
    username, password = credentials
    async with connection.app.state.read_sessionmaker() as db_session:
        try:
            user = await find_user(db_session=db_session, username=username)
        except NotFound:
            user = None
    stored = user.password_hash if user is not None else _decoy_hash()
    matches = await asyncio.to_thread(password_matches, stored, password)
    if user is None or not matches or user.role not in ROLES:
        raise _challenge("Tên đăng nhập hoặc mật khẩu không đúng.")
    connection.state.web_user = WebUser(user.username, user.role)
