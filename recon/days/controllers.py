"""Closing days over HTTP: `GET /api/v1/days` (ledger:read), `POST /api/v1/days/{date}/close`
and `/reopen` (days:write). The key authorises the calling service; `user` names the person who
acts, and that person's role is checked as on the command line."""

from __future__ import annotations

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from recon.clock import Clock
from recon.dates import parse_date
from recon.days.schemas import DayAction, DayOut
from recon.days.service import close_day, list_days, reopen_day
from recon.settings import Settings


@get("/days", opt={"scope": "ledger:read"}, summary="Days ever closed, and their state")
async def get_days(db_session: NamedDependency[AsyncSession]) -> list[DayOut]:
    return await list_days(db_session=db_session)


# the path parameter is named as DESIGN names it, `{date}`: errors and /schema say `date`
@post("/days/{date:str}/close", opt={"scope": "days:write"}, status_code=200, summary="Close a day")
async def post_close_day(
    date: FromPath[str],
    data: JSONBody[DayAction],
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    clock: NamedDependency[Clock],
) -> DayOut:
    return await close_day(
        db_session=db_session,
        day=parse_date(date, "date"),
        username=data.user,
        note=data.note,
        channels=settings.channel_names(),
        now=clock(),
    )


@post(
    "/days/{date:str}/reopen", opt={"scope": "days:write"}, status_code=200, summary="Reopen a day"
)
async def post_reopen_day(
    date: FromPath[str],
    data: JSONBody[DayAction],
    db_session: NamedDependency[AsyncSession],
    clock: NamedDependency[Clock],
) -> DayOut:
    return await reopen_day(
        db_session=db_session,
        day=parse_date(date, "date"),
        username=data.user,
        note=data.note,
        now=clock(),
    )
