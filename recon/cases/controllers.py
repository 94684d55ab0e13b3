"""The mismatch queue over HTTP: `GET /api/v1/cases` and `GET /api/v1/cases/{id}` (cases:read)."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from recon.cases.schemas import STATUS_FILTERS, CaseDetail, CasePage
from recon.cases.service import MAX_PAGE, check_filter, get_case, list_cases
from recon.dates import parse_optional_date
from recon.domain import MAX_ID
from recon.settings import Settings
from recon.vocab import CASE_TYPES

READ = {"scope": "cases:read"}


@get("/cases", opt=READ, summary="List cases: live ones by default, newest last")
async def get_cases(
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    status: Annotated[
        str,
        QueryParameter(
            enum=STATUS_FILTERS, description="open (live: open and reopened), resolved, closed, all"
        ),
    ] = "open",
    day: Annotated[
        str | None, QueryParameter(name="date", format="date", description="Business day")
    ] = None,
    case_type: Annotated[str | None, QueryParameter(name="type", enum=CASE_TYPES)] = None,
    channel: Annotated[str | None, QueryParameter()] = None,
    cursor: Annotated[
        int | None,
        QueryParameter(
            ge=0,
            le=MAX_ID,
            description="`next_cursor` of the page before",
            schema_extra={"minimum": 0},  # Litestar leaves a bound of 0 out
        ),
    ] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 100,
) -> CasePage:
    wanted = check_filter(
        status=status,
        day=parse_optional_date(day, "date"),
        case_type=case_type,
        channel=channel,
        channels=settings.channel_names(),
        prefix="",  # the query parameters' names, not the CLI's options
    )
    return await list_cases(db_session=db_session, wanted=wanted, after=cursor, limit=limit)


@get("/cases/{case_id:int}", opt=READ, summary="One case: lines, dossier, explanation, history")
async def get_one_case(
    case_id: FromPath[int], db_session: NamedDependency[AsyncSession]
) -> CaseDetail:
    return await get_case(db_session=db_session, case_id=case_id)
