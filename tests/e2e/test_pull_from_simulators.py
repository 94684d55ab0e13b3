"""End to end: pull real HTTP statements from the running channel simulators into both databases."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.base import RetryPolicy
from fixtures.simulators.server import SimulatorSet, run_simulators
from recon.db.models import StatementLineRow
from recon.db.session import open_database
from recon.settings import Settings, load_settings
from recon.statements.pull import ChannelOutcome, pull_channel_day

pytestmark = pytest.mark.e2e

END = date(2025, 11, 24)
START = END - timedelta(days=2)


@pytest.fixture(scope="module")
def sims() -> Iterator[SimulatorSet]:
    with run_simulators(start=START, end=END, seed=2024, max_page_size=2) as running:
        yield running


@pytest.fixture
def sim_settings(sims: SimulatorSet, database_url: str, tmp_path: Path) -> Settings:
    sims.reset()
    config = tmp_path / "recon.toml"
    config.write_text(sims.recon_config_toml(), encoding="utf-8")
    return load_settings(
        {"RECON_DATABASE_URL": database_url, "RECON_CONFIG": str(config), **sims.recon_env()}
    )


@pytest.fixture
async def maker(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with open_database(database_url) as sessionmaker:
        yield sessionmaker


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


async def pull(
    settings: Settings,
    maker: async_sessionmaker[AsyncSession],
    channel: str,
    sleeps: Sleeps | None = None,
) -> ChannelOutcome:
    policy = RetryPolicy(sleep=sleeps or Sleeps(), rand=lambda: 0.5)
    async with httpx.AsyncClient() as client:
        return await pull_channel_day(
            sessionmaker=maker,
            settings=settings,
            channel=channel,
            day=END,
            client=client,
            retry_policy=policy,
        )


async def stored(maker: async_sessionmaker[AsyncSession], channel: str) -> int:
    async with maker() as session:
        query = select(func.count()).select_from(StatementLineRow)
        return int(
            (await session.execute(query.where(StatementLineRow.channel == channel))).scalar_one()
        )


@pytest.mark.parametrize("channel", ["momo", "portal", "bank"])
async def test_a_day_is_pulled_over_many_pages_and_a_second_pull_inserts_nothing(
    sim_settings: Settings, maker: async_sessionmaker[AsyncSession], channel: str
) -> None:
    first = await pull(sim_settings, maker, channel)
    assert first.status == "succeeded", first.error
    assert first.lines > 2  # more than one page of the capped size
    assert first.inserted == first.lines
    assert await stored(maker, channel) == first.lines
    second = await pull(sim_settings, maker, channel)
    assert (second.status, second.inserted, second.duplicates) == ("succeeded", 0, first.lines)


async def test_the_midnight_cut_off_holds_end_to_end(
    sim_settings: Settings, maker: async_sessionmaker[AsyncSession]
) -> None:
    assert (await pull(sim_settings, maker, "momo")).status == "succeeded"
    async with maker() as session:
        rows = (await session.execute(select(StatementLineRow))).scalars().all()
    assert rows
    assert {r.business_day for r in rows} == {END}
    local_times = {json.loads(r.raw).get("responseTime") for r in rows}
    assert local_times  # the raw payload of every line is kept


FAULTS = [
    # (channel, fault, expected status, error text or None, extra check)
    ("momo", {"type": "http_500", "times": 4}, "succeeded", None),
    ("portal", {"type": "http_500", "times": 5}, "failed", "after 5 attempts"),
    ("bank", {"type": "http_429", "times": 2, "retry_after": 7}, "succeeded", None),
    ("portal", {"type": "http_401", "times": 1}, "failed", "401"),
    ("momo", {"type": "bad_signature", "times": 1}, "failed", "signature"),
    ("momo", {"type": "result_code", "code": 11, "times": 1}, "failed", "11"),
    ("momo", {"type": "result_code", "code": 99, "times": 2}, "succeeded", None),
    ("bank", {"type": "bank_error", "times": 1}, "failed", "error"),
    ("portal", {"type": "truncated", "times": 1}, "failed", "JSON"),
    ("momo", {"type": "wrong_totals"}, "failed", "control totals"),
    ("bank", {"type": "wrong_totals"}, "failed", "control totals"),
    ("portal", {"type": "duplicate"}, "succeeded", None),
]


@pytest.mark.parametrize(
    ("channel", "fault", "status", "error"),
    FAULTS,
    ids=[f"{c}-{f['type']}-{f.get('times')}" for c, f, _, _ in FAULTS],
)
async def test_every_fault_switch_gives_the_documented_outcome(
    sims: SimulatorSet,
    sim_settings: Settings,
    maker: async_sessionmaker[AsyncSession],
    channel: str,
    fault: dict[str, Any],
    status: str,
    error: str | None,
) -> None:
    getattr(sims, channel).faults.add({**fault, "date": END.isoformat()})
    sleeps = Sleeps()
    outcome = await pull(sim_settings, maker, channel, sleeps)
    assert outcome.status == status, outcome.error
    if error is None:
        assert outcome.error is None
    else:
        assert outcome.error is not None
        assert error.lower() in outcome.error.lower()
        assert await stored(maker, channel) == 0  # a failed pull stores nothing
    if fault["type"] == "http_429":
        assert sleeps.delays[:2] == [7.0, 7.0]
    if fault["type"] == "wrong_totals":
        assert outcome.control_mismatch is not None
    if fault["type"] == "duplicate":
        sims.reset()
        clean = await pull(sim_settings, maker, channel)
        assert clean.inserted == 0
        assert clean.lines == outcome.lines


def test_the_cli_pull_prints_the_run_shaped_object(
    sim_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sims: SimulatorSet,
    tmp_path: Path,
) -> None:
    from recon.cli import main

    config = tmp_path / "cli.toml"
    config.write_text(sims.recon_config_toml(), encoding="utf-8")
    monkeypatch.setenv("RECON_CONFIG", str(config))
    monkeypatch.setenv("RECON_DATABASE_URL", sim_settings.database_url)
    for key, value in sims.recon_env().items():
        monkeypatch.setenv(key, value)
    assert os.environ["RECON_CONFIG"] == str(config)
    code = main(["statements", "pull", "--channel", "portal", "--date", END.isoformat(), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["run_id"] is None
    assert out["status"] == "succeeded"
    assert out["channels"]["portal"]["status"] == "succeeded"
    assert out["channels"]["portal"]["error"] is None
    assert (out["matched"], out["cases_opened"], out["cases_closed"], out["cases_open"]) == (
        0,
        0,
        0,
        0,
    )

    sims.portal.faults.add({"type": "http_401", "times": 1})
    code = main(["statements", "pull", "--channel", "portal", "--date", END.isoformat(), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert out["status"] == "failed"
    assert out["channels"]["portal"]["error"]
