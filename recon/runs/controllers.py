"""Runs over HTTP: `GET /api/v1/runs` and `GET /api/v1/runs/{id}` (runs:read)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from recon.dates import parse_optional_date
from recon.db.models import Run
from recon.runs.schemas import RunOut
from recon.runs.service import get_run, list_runs

READ = {"scope": "runs:read"}
MAX_RUNS = 500


def _out(run: Run) -> RunOut:
    return RunOut.from_row(
        run,
        run_id=run.id,
        date=run.business_day,
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
    runs = await list_runs(db_session=db_session, day=parse_optional_date(day, "date"), limit=limit)
    return [_out(run) for run in runs]


@get("/runs/{run_id:int}", opt=READ, summary="One run and its JSON")
async def get_one_run(run_id: FromPath[int], db_session: NamedDependency[AsyncSession]) -> RunOut:
    return _out(await get_run(db_session=db_session, run_id=run_id))
