"""A one-time notice carried across a form's redirect (post, redirect, get): "Đã xử lý vụ
việc #12", or why the action was refused.

The notice rides in a short-lived cookie (HttpOnly, SameSite=Lax, a minute) that the next page
shows once and deletes: no session storage, and nothing reflected from the URL, so no link can
make a page say what its author wants. The text is escaped by the template like any other.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal

import msgspec
from litestar import Request, Response
from litestar.datastructures import Cookie

NOTICE_COOKIE = "recon_notice"
MAX_TEXT = 600


class Notice(msgspec.Struct, frozen=True):
    kind: Literal["ok", "error"]
    text: str


def notice_cookie(kind: Literal["ok", "error"], text: str, *, secure: bool) -> Cookie:
    payload = msgspec.json.encode(Notice(kind, text[:MAX_TEXT]))
    return Cookie(
        key=NOTICE_COOKIE,
        value=base64.urlsafe_b64encode(payload).decode("ascii"),
        max_age=60,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def read_notice(request: Request[Any, Any, Any]) -> Notice | None:
    value = request.cookies.get(NOTICE_COOKIE)
    if not value:
        return None
    try:
        return msgspec.json.decode(base64.urlsafe_b64decode(value.encode("ascii")), type=Notice)
    except (binascii.Error, ValueError, msgspec.DecodeError, UnicodeEncodeError):
        return None


def shown_once(response: Response[Any], request: Request[Any, Any, Any]) -> Response[Any]:
    """The page that showed the notice deletes its cookie."""
    if NOTICE_COOKIE in request.cookies:
        response.delete_cookie(NOTICE_COOKIE, path="/")
    return response
