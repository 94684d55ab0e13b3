"""`recon reconcile`: the CLI's own database session and HTTP client around one run."""

from __future__ import annotations

from datetime import date

import httpx

from recon.db.session import open_database
from recon.runs.service import RunResult, reconcile_day
from recon.settings import Settings
from recon.statements.channels import channel_config


async def reconcile_once(
    settings: Settings, day: date, channel: str | None, *, pull: bool
) -> RunResult:
    if channel is not None:
        channel_config(settings, channel)
    async with open_database(settings.database_url) as sessionmaker, httpx.AsyncClient() as client:
        return await reconcile_day(
            sessionmaker=sessionmaker,
            settings=settings,
            day=day,
            channel=channel,
            pull=pull,
            client=client,
        )
