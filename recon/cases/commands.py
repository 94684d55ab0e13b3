"""`recon cases list`: the CLI's own session."""

from __future__ import annotations

from datetime import date

from recon.cases.schemas import CaseSummary
from recon.cases.service import check_filter, list_cases
from recon.db.session import open_database
from recon.settings import Settings


async def list_cases_once(
    settings: Settings,
    *,
    status: str,
    day: date | None,
    case_type: str | None,
    channel: str | None,
) -> list[CaseSummary]:
    wanted = check_filter(
        status=status,
        day=day,
        case_type=case_type,
        channel=channel,
        channels=settings.channel_names(),
    )
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as session:
        return (await list_cases(session, wanted)).cases
