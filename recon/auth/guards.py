"""Every `/api/v1` route needs a bearer key; each declares its scope in `opt["scope"]`.

A route that forgets to declare a scope is refused to everyone: nothing is open by accident.
"""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from recon.auth.service import authenticate_key
from recon.errors import FieldError, Forbidden, Unauthorized


def _unauthorized(reason: str) -> Unauthorized:
    return Unauthorized(reason, [FieldError(field="Authorization", reason=reason)])


def _forbidden(reason: str) -> Forbidden:
    return Forbidden(reason, [FieldError(field="Authorization", reason=reason)])


async def require_api_key(connection: ASGIConnection, route_handler: BaseRouteHandler) -> None:  # type: ignore[type-arg]
    header = connection.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise _unauthorized("send an API key as 'Authorization: Bearer <key>'")
    async with connection.app.state.read_sessionmaker() as db_session:
        principal = await authenticate_key(db_session=db_session, key=key.strip())
    if principal is None:
        raise _unauthorized("the API key is unknown or revoked")
    scope = route_handler.opt.get("scope")
    if not isinstance(scope, str):
        raise _forbidden("this route declares no scope, so no key may call it")
    if scope not in principal.scopes:
        raise _forbidden(f"the API key lacks the scope {scope!r}")
    connection.state.principal = principal
