"""Health, readiness and metrics: no key needed (DESIGN 6)."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.datastructures import State
from sqlalchemy import text

from recon.db.migrate import current_revision, head_revision
from recon.system.errors import error_response
from recon.system.observability import metrics_text


@get("/healthz", sync_to_thread=False, include_in_schema=True)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz")
async def readyz(state: State) -> Response[dict[str, Any]]:
    engine = state.engine
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        revision = await current_revision(engine)
    except Exception as exc:  # any driver error means "not ready", never a 500
        return error_response(503, f"database unreachable: {type(exc).__name__}")
    head = head_revision()
    if revision != head:
        return error_response(
            503,
            f"database schema at {revision or 'nothing'}, expected {head}: run `recon db upgrade`",
        )
    return Response({"status": "ready", "database": "ok", "schema": revision})


@get("/metrics", media_type="text/plain; version=0.0.4", sync_to_thread=False)
def metrics() -> str:
    return metrics_text()
