"""The mismatch queue over HTTP: `GET /api/v1/cases` and `GET /api/v1/cases/{id}` (cases:read)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from recon.cases.schemas import CaseDetail, CasePage
from recon.cases.service import MAX_PAGE, check_filter, get_case, list_cases
from recon.errors import BadInput
from recon.settings import Settings

READ = {"scope": "cases:read"}


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"date: {text!r} is not a date YYYY-MM-DD") from None


@get("/cases", opt=READ, summary="List cases: live ones by default, newest last")
async def get_cases(
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    status: FromQuery[str] = "open",
    day: Annotated[str | None, QueryParameter(name="date")] = None,
    case_type: Annotated[str | None, QueryParameter(name="type")] = None,
    channel: FromQuery[str | None] = None,
    cursor: FromQuery[int | None] = None,
    limit: FromQuery[int] = 100,
) -> CasePage:
    if not 1 <= limit <= MAX_PAGE:
        raise BadInput(f"limit: between 1 and {MAX_PAGE}")
    wanted = check_filter(
        status=status,
        day=_day(day),
        case_type=case_type,
        channel=channel,
        channels=settings.channel_names(),
    )
    return await list_cases(db_session, wanted, after=cursor, limit=limit)


@get("/cases/{case_id:int}", opt=READ, summary="One case: lines, dossier, explanation, history")
async def get_one_case(
    case_id: FromPath[int], db_session: NamedDependency[AsyncSession]
) -> CaseDetail:
    return await get_case(db_session, case_id)
