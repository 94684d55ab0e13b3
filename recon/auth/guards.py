"""Every `/api/v1` route needs a bearer key; each declares its scope in `opt["scope"]`.

A route that forgets to declare a scope is refused to everyone: nothing is open by accident.
The guard asks, in this order: is the key known and live (401), is it within its rate (429), has
it the route's scope (403). A key verified in the last 3 seconds is taken from the process's
`KeyCache` without opening a database session; every key has its own `RateLimiter` bucket.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from recon.auth.keycache import KeyCache
from recon.auth.ratelimit import RateLimiter
from recon.auth.service import Principal, key_digest, key_principal
from recon.db.reads import QuickReads, quick_reads
from recon.errors import FieldError, Forbidden, RateLimited, Unauthorized

# where the app keeps its `KeyGate` (app.state); a test may put one of its own there first
KEY_GATE = "api_key_gate"


@dataclass(frozen=True)
class KeyGate:
    """The process's verified keys and each key's request rate."""

    cache: KeyCache
    limiter: RateLimiter


def key_gate(app: Litestar) -> KeyGate:
    """The app's gate, made at its first API request from the app's settings."""
    gate: KeyGate | None = app.state.get(KEY_GATE)
    if gate is None:
        per_minute = app.state.settings.api.requests_per_minute
        gate = app.state[KEY_GATE] = KeyGate(cache=KeyCache(), limiter=RateLimiter(per_minute))
    return gate


def _unauthorized(reason: str) -> Unauthorized:
    return Unauthorized(reason, [FieldError(field="Authorization", reason=reason)])


def _forbidden(reason: str) -> Forbidden:
    return Forbidden(reason, [FieldError(field="Authorization", reason=reason)])


def _rate_limited(per_minute: int, retry_after: int) -> RateLimited:
    reason = (
        f"the API key made more than its {per_minute} requests a minute; "
        f"retry after {retry_after} s"
    )
    return RateLimited(reason, retry_after, [FieldError(field="Authorization", reason=reason)])


async def _principal(key: str, digest: str, cache: KeyCache, reads: QuickReads) -> Principal | None:
    """The cache's principal for the key, else the database's (remembered if there is one)."""
    principal = cache.get(digest)
    if principal is not None:
        return principal
    looked_up_at = cache.monotonic()
    principal = await reads.run(key_principal, key)
    if principal is not None:
        cache.remember(digest, principal, looked_up_at=looked_up_at)
    return principal


async def require_api_key(connection: ASGIConnection, route_handler: BaseRouteHandler) -> None:  # type: ignore[type-arg]
    header = connection.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise _unauthorized("send an API key as 'Authorization: Bearer <key>'")
    gate = key_gate(connection.app)
    digest = key_digest(key)
    principal = await _principal(key, digest, gate.cache, quick_reads(connection))
    if principal is None:
        raise _unauthorized("the API key is unknown or revoked")
    retry_after = gate.limiter.take(digest)
    if retry_after:
        raise _rate_limited(gate.limiter.per_minute, retry_after)
    scope = route_handler.opt.get("scope")
    if not isinstance(scope, str):
        raise _forbidden("this route declares no scope, so no key may call it")
    if scope not in principal.scopes:
        raise _forbidden(f"the API key lacks the scope {scope!r}")
    connection.state.principal = principal
