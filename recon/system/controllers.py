"""Health, readiness and metrics: no key needed (DESIGN 6). Each answers GET and HEAD (the
same status and headers, no body), as load balancers and uptime probes often ask with HEAD."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, route
from litestar.datastructures import State
from litestar.enums import HttpMethod
from litestar.openapi.datastructures import ResponseSpec
from sqlalchemy import text

from recon.db.migrate import current_revision, head_revision
from recon.system.errors import error_body, error_responses
from recon.system.observability import metrics_text

GET_AND_HEAD = [HttpMethod.GET, HttpMethod.HEAD]
METRICS_MEDIA_TYPE = "text/plain; version=0.0.4"


class Health(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    status: str
    database: str
    schema: str


def _answer(
    request: Request[Any, Any, Any], body: bytes, *, status: int = 200, media_type: str
) -> Response[bytes]:
    """`body` for GET; for HEAD the same status and headers, its length, and no body."""
    if request.method == HttpMethod.HEAD:
        headers = {"content-length": str(len(body))}
        return Response(b"", status_code=status, media_type=media_type, headers=headers)
    return Response(body, status_code=status, media_type=media_type)


@route(
    "/healthz",
    http_method=GET_AND_HEAD,
    sync_to_thread=False,
    summary="The process answers",
    responses={200: ResponseSpec(Health, generate_examples=False, description="Alive")},
)
def healthz(request: Request[Any, Any, Any]) -> Response[bytes]:
    return _answer(request, msgspec.json.encode(Health("ok")), media_type="application/json")


@route(
    "/readyz",
    http_method=GET_AND_HEAD,
    summary="The database answers, its schema at head",
    responses={
        200: ResponseSpec(Readiness, generate_examples=False, description="Ready"),
        **error_responses(503),
    },
)
async def readyz(request: Request[Any, Any, Any], state: State) -> Response[bytes]:
    engine = state.engine
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        revision = await current_revision(engine)
    except Exception as exc:  # any driver error means "not ready", never a 500
        body = error_body(503, f"database unreachable: {type(exc).__name__}")
        return _answer(
            request, msgspec.json.encode(body), status=503, media_type="application/json"
        )
    head = head_revision()
    if revision != head:
        detail = (
            f"database schema at {revision or 'nothing'}, expected {head}: run `recon db upgrade`"
        )
        body = error_body(503, detail)
        return _answer(
            request, msgspec.json.encode(body), status=503, media_type="application/json"
        )
    ready = Readiness(status="ready", database="ok", schema=revision)
    return _answer(request, msgspec.json.encode(ready), media_type="application/json")


@route(
    "/metrics",
    http_method=GET_AND_HEAD,
    sync_to_thread=False,
    summary="Prometheus metrics",
    media_type=METRICS_MEDIA_TYPE,
)
def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    return _answer(request, metrics_text().encode(), media_type=METRICS_MEDIA_TYPE)
