"""What the end-to-end tests share: a ward served by the module's simulators (each module
starts its own `sims`), loaded into a clean database, and retries that do not wait."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.base import RetryPolicy
from fixtures.simulators.server import SimulatorSet
from recon.db.session import open_database
from recon.dossiers.imports import import_dossier_bytes
from recon.runs.schemas import RunResult
from recon.runs.service import reconcile_day
from recon.settings import Settings, load_settings


async def _no_wait(_: float) -> None:
    return None


INSTANT = RetryPolicy(sleep=_no_wait)


async def run_days(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], days: Iterable[date]
) -> list[RunResult]:
    """A run of each day in turn, through one HTTP client, as the nightly work would."""
    runs = []
    async with httpx.AsyncClient() as client:
        for day in days:
            runs.append(
                await reconcile_day(
                    sessionmaker=sessionmaker,
                    settings=settings,
                    day=day,
                    client=client,
                    retry_policy=INSTANT,
                )
            )
    return runs


@pytest.fixture
async def ward(
    sims: SimulatorSet, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Settings, async_sessionmaker[AsyncSession]]]:
    """The simulators' ward: its dossiers imported, the channels configured at the simulators."""
    sims.reset()
    config = tmp_path / "recon.toml"
    config.write_text(sims.recon_config_toml(), encoding="utf-8")
    settings = load_settings(
        {"RECON_DATABASE_URL": database_url, "RECON_CONFIG": str(config), **sims.recon_env()}
    )
    data = json.dumps(sims.ward.dossiers, default=str, ensure_ascii=False).encode()
    summary = await import_dossier_bytes(settings, "ward.json", data)
    assert summary.rejected == []
    async with open_database(database_url) as sessionmaker:
        yield settings, sessionmaker
    sims.reset()
