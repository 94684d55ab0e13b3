"""Health, readiness and metrics: no key needed (DESIGN 6). Each answers GET and HEAD (the
same status and headers, no body), as load balancers and uptime probes often ask with HEAD."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import msgspec
from litestar import Request, Response, route
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.enums import HttpMethod
from litestar.openapi.datastructures import ResponseSpec
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from sqlalchemy import text

from recon.cases.service import live_case_counts
from recon.clock import Clock
from recon.db.migrate import current_revision, head_revision
from recon.schedule.status import schedule_status
from recon.system.errors import error_body, error_responses
from recon.system.metrics import CaseGauges, PoolGauges, ScheduleGauges, render

GET_AND_HEAD = [HttpMethod.GET, HttpMethod.HEAD]
METRICS_MEDIA_TYPE = CONTENT_TYPE_PLAIN_0_0_4
log = logging.getLogger("recon.system")


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
    summary="Prometheus metrics",
    media_type=METRICS_MEDIA_TYPE,
)
async def metrics(
    request: Request[Any, Any, Any], state: State, clock: NamedDependency[Clock]
) -> Response[bytes]:
    return _answer(request, await metrics_body(state, clock()), media_type=METRICS_MEDIA_TYPE)


async def metrics_body(state: State, now: datetime) -> bytes:
    """The process's metrics, its pool, and the gauges read from the database: the schedule's
    and the live cases. A database that does not answer leaves those out (and the probe
    answering) rather than failing the scrape."""
    pool = PoolGauges(state.engine.sync_engine.pool)
    try:
        async with state.read_sessionmaker() as session:
            status = await schedule_status(session, state.settings, now)
            live = await live_case_counts(db_session=session)
    except Exception as exc:  # a scrape must answer whatever the database does
        log.warning("metrics without the database's gauges: %s", type(exc).__name__)
        return render(pool)
    channels = status.last_succeeded
    schedule = ScheduleGauges(
        last_succeeded=channels,
        overdue={name: status.channel_overdue(name) for name in channels},
        given_up={name: status.channel_given_up(name) for name in channels},
        days_overdue=len(status.overdue()),
    )
    return render(pool, schedule, CaseGauges(live))
