"""Runs over HTTP: `GET /api/v1/runs` and `GET /api/v1/runs/{id}` (runs:read)."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from recon.dates import parse_optional_date
from recon.runs.schemas import RunView
from recon.runs.service import get_run, list_runs

READ = {"scope": "runs:read"}
MAX_RUNS = 500


@get("/runs", opt=READ, summary="Runs, newest first")
async def get_runs(
    db_session: NamedDependency[AsyncSession],
    day: Annotated[
        str | None, QueryParameter(name="date", format="date", description="Business day")
    ] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_RUNS)] = 50,
) -> list[RunView]:
    runs = await list_runs(db_session=db_session, day=parse_optional_date(day, "date"), limit=limit)
    return [RunView.of(run) for run in runs]


@get("/runs/{run_id:int}", opt=READ, summary="One run and its JSON")
async def get_one_run(run_id: FromPath[int], db_session: NamedDependency[AsyncSession]) -> RunView:
    return RunView.of(await get_run(db_session=db_session, run_id=run_id))
