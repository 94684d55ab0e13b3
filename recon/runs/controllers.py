"""Runs over HTTP: `GET /api/v1/runs` and `GET /api/v1/runs/{id}` (runs:read)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.models import Run
from recon.domain import MAX_ID
from recon.errors import FieldError, NotFound
from recon.system.params import optional_day

READ = {"scope": "runs:read"}
MAX_RUNS = 500


class RunOut(msgspec.Struct, kw_only=True):
    run_id: int
    date: date
    channel: str | None
    status: str
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    result: dict[str, Any]


def _out(run: Run) -> RunOut:
    return RunOut(
        run_id=run.id,
        date=run.business_day,
        channel=run.channel,
        status=run.status,
        trigger=run.trigger,
        started_at=run.started_at,
        finished_at=run.finished_at,
        result=msgspec.json.decode(run.result or "{}"),
    )


@get("/runs", opt=READ, summary="Runs, newest first")
async def get_runs(
    db_session: NamedDependency[AsyncSession],
    day: Annotated[
        str | None, QueryParameter(name="date", format="date", description="Business day")
    ] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_RUNS)] = 50,
) -> list[RunOut]:
    query = select(Run).order_by(Run.id.desc()).limit(limit)
    wanted = optional_day(day, "date")
    if wanted is not None:
        query = query.where(Run.business_day == wanted)
    return [_out(run) for run in (await db_session.execute(query)).scalars()]


@get("/runs/{run_id:int}", opt=READ, summary="One run and its JSON")
async def get_one_run(run_id: FromPath[int], db_session: NamedDependency[AsyncSession]) -> RunOut:
    run = await db_session.get(Run, run_id) if 1 <= run_id <= MAX_ID else None
    if run is None:
        reason = f"no run with id {run_id}"
        raise NotFound(reason, [FieldError("run_id", reason)])
    return _out(run)
