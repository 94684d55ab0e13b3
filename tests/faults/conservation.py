"""What every fault test ends with: nothing lost, nothing doubled, the same books.

- Per channel-day, the stored lines agree with the channel's own control totals (the simulator
  computes them as the channel reports them, `fixtures.ward.control_totals`), and the latest
  successful fetch recorded those same totals: MoMo and portal count and sum the successful
  lines; the bank counts every record, outgoing ones included, which recon does not store.
- No line twice (`channel` + `channel_txn_id`), no live case twice (one per identity).
- The ledger (`recon ledger --from --to --json`) equals the one an undisturbed run of the same
  days leaves on a fresh database (`baseline_ledger`).

Also the two deployments the fault tests use: `Ward` (in-process, through the run service,
retries that do not wait) and `Deployment` (real `recon` processes).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.pool import NullPool

from adapters.base import RetryPolicy
from fixtures.simulators.server import SimulatorSet
from recon.db.models import Base, Case, ChannelFetch, Dossier, StatementLineRow
from recon.db.session import open_database
from recon.dossiers.imports import import_dossier_bytes
from recon.ledger.exports import render_ledger
from recon.ledger.service import build_ledger
from recon.runs.schemas import RunResult
from recon.runs.service import reconcile_day
from recon.settings import Settings, load_settings
from recon.vocab import LIVE_CASE_STATUSES
from tests.conftest import sync_url

ROOT = Path(__file__).resolve().parents[2]
RECON = [sys.executable, "-m", "recon.cli"]
PULLED = ("momo", "portal", "bank")


async def _no_wait(_: float) -> None:
    return None


INSTANT = RetryPolicy(sleep=_no_wait)  # every retry at once: a fault test never sleeps


def span(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def sync_engine(url: str) -> Engine:
    return create_engine(sync_url(url), poolclass=NullPool)


# --- the checks ---------------------------------------------------------------------------


def stored_totals(engine: Engine, channel: str, day: date) -> tuple[int, int, int]:
    """(every stored line, successful lines, their sum) of one channel-day."""
    where = (StatementLineRow.channel == channel, StatementLineRow.business_day == day)
    ok = StatementLineRow.status == "success"
    query = select(
        func.count(),
        func.count().filter(ok),
        func.coalesce(func.sum(StatementLineRow.amount).filter(ok), 0),
    ).where(*where)
    with engine.connect() as connection:
        every, count, amount = connection.execute(query).one()
    return int(every), int(count), int(amount)


def latest_fetch(engine: Engine, channel: str, day: date) -> Any:
    query = (
        select(ChannelFetch)
        .where(
            ChannelFetch.channel == channel,
            ChannelFetch.business_day == day,
            ChannelFetch.status == "succeeded",
        )
        .order_by(ChannelFetch.id.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        return connection.execute(query).first()


def check_channel_days(engine: Engine, sims: SimulatorSet, days: Iterable[date]) -> None:
    """Every pulled channel-day holds what its channel's control totals say, and its latest
    successful fetch recorded those totals."""
    for day in days:
        for channel in PULLED:
            sim = getattr(sims, channel)
            lines = sim.lines(day)
            totals = sim.totals(day)
            every, count, amount = stored_totals(engine, channel, day)
            fetch = latest_fetch(engine, channel, day)
            where = f"{channel} {day}"
            assert fetch is not None, f"{where}: never pulled successfully"
            if channel == "bank":  # a count of every record; outgoing ones are not stored
                incoming = sum(1 for r in lines if r["amount"] > 0)
                assert (every, len(lines)) == (incoming, totals["count"]), where
                assert fetch.control_count == totals["count"], where
            else:
                assert (count, amount) == (totals["count"], totals["amount"]), where
                assert every == len({line[_ID[channel]] for line in lines}), where
                assert (fetch.control_count, fetch.control_amount) == (
                    totals["count"],
                    totals["amount"],
                ), where


_ID = {"momo": "transId", "portal": "maGiaoDich", "bank": "id"}


def duplicate_lines(engine: Engine) -> list[Any]:
    query = (
        select(StatementLineRow.channel, StatementLineRow.channel_txn_id, func.count())
        .group_by(StatementLineRow.channel, StatementLineRow.channel_txn_id)
        .having(func.count() > 1)
    )
    with engine.connect() as connection:
        return list(connection.execute(query).all())


def duplicate_cases(engine: Engine) -> list[Any]:
    query = (
        select(Case.identity, func.count())
        .where(Case.status.in_(LIVE_CASE_STATUSES))
        .group_by(Case.identity)
        .having(func.count() > 1)
    )
    with engine.connect() as connection:
        return list(connection.execute(query).all())


def row_counts(engine: Engine) -> dict[str, int]:
    """The number of rows of every table: what "the database exactly as before" compares."""
    with engine.connect() as connection:
        return {
            table.name: int(
                connection.execute(select(func.count()).select_from(table)).scalar_one()
            )
            for table in Base.metadata.sorted_tables
        }


def sqlite_integrity(url: str) -> str:
    with sync_engine(url).connect() as connection:
        return str(connection.execute(text("PRAGMA integrity_check")).scalar_one())


def live_cases(engine: Engine) -> list[tuple[Any, ...]]:
    """The live cases by what they say (type, day, channel, dossier, amounts), sorted."""
    query = (
        select(
            Case.type,
            Case.business_day,
            Case.channel,
            Dossier.dossier_code,
            Case.expected_amount,
            Case.actual_amount,
        )
        .outerjoin(Dossier, Dossier.id == Case.dossier_id)
        .where(Case.status.in_(LIVE_CASE_STATUSES))
    )
    with engine.connect() as connection:
        return sorted(tuple(str(v) for v in row) for row in connection.execute(query))


@dataclass(frozen=True)
class Baseline:
    """What an undisturbed run of the days leaves."""

    ledger: Any
    cases: list[tuple[Any, ...]]


def check_conservation(
    url: str, sims: SimulatorSet, days: list[date], settings: Settings, expected: Baseline
) -> None:
    """The whole check: control totals per channel-day, no duplicate line or live case, and
    the ledger of `days` (and the live cases) equal to an undisturbed run's. Called outside
    any event loop."""
    engine = sync_engine(url)
    try:
        check_channel_days(engine, sims, days)
        assert duplicate_lines(engine) == []
        assert duplicate_cases(engine) == []
        assert live_cases(engine) == expected.cases
    finally:
        engine.dispose()
    assert asyncio.run(ledger_of(settings, days)) == expected.ledger


# --- the ledger, and the undisturbed run's ------------------------------------------------


async def ledger_of(settings: Settings, days: list[date]) -> Any:
    """What `recon ledger --from --to --json` prints, as JSON."""
    async with (
        open_database(settings.database_url, read_only=True) as sessionmaker,
        sessionmaker() as session,
    ):
        ledger = await build_ledger(
            db_session=session, start=days[0], end=days[-1], channels=settings.channel_names()
        )
    return json.loads(render_ledger(ledger, "json", ward_name=settings.ward_name))


def ward_settings(sims: SimulatorSet, url: str, home: Path) -> Settings:
    home.mkdir(parents=True, exist_ok=True)
    config = home / "recon.toml"
    config.write_text(sims.recon_config_toml(), encoding="utf-8")
    return load_settings(
        {"RECON_DATABASE_URL": url, "RECON_CONFIG": str(config), **sims.recon_env()}
    )


async def load_ward(settings: Settings, sims: SimulatorSet) -> None:
    data = json.dumps(sims.ward.dossiers, default=str, ensure_ascii=False).encode()
    summary = await import_dossier_bytes(settings, "ward.json", data)
    assert summary.rejected == []


async def run_days(settings: Settings, days: Iterable[date]) -> list[RunResult]:
    """A run of each day in turn, in this process, retries at once."""
    runs = []
    async with open_database(settings.database_url) as sessionmaker, httpx.AsyncClient() as client:
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


def baseline(sims: SimulatorSet, sqlite_template: Path, home: Path, days: list[date]) -> Baseline:
    """The ledger and live cases an undisturbed run of `days` leaves: a fresh SQLite database, the ward's
    dossiers, one run per day against the simulators as they are now (faults set aside)."""
    saved = [(sim, sim.faults.active()) for sim in sims.sims.values()]
    for sim, _ in saved:
        sim.faults.clear()
    try:
        home.mkdir(parents=True, exist_ok=True)
        path = home / "baseline.db"
        shutil.copyfile(sqlite_template, path)
        settings = ward_settings(sims, f"sqlite+aiosqlite:///{path}", home)

        async def undisturbed() -> Any:
            await load_ward(settings, sims)
            runs = await run_days(settings, days)
            assert [r.status for r in runs] == ["succeeded"] * len(days)
            return await ledger_of(settings, days)

        ledger = asyncio.run(undisturbed())
        engine = sync_engine(settings.database_url)
        cases = live_cases(engine)
        engine.dispose()
        return Baseline(ledger, cases)
    finally:
        for sim, faults in saved:
            for fault in faults:
                sim.faults.add(fault)


# --- real processes -----------------------------------------------------------------------


@dataclass
class Deployment:
    """A configuration naming the simulators and the environment a `recon` process gets."""

    url: str
    home: Path
    settings: Settings
    env: dict[str, str]
    started: list[subprocess.Popen[str]] = field(default_factory=list)

    def recon(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*RECON, *args],
            cwd=self.home,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [*RECON, *args],
            cwd=self.home,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        """Kill (by pid) every process this deployment started that is still alive."""
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=10)


def deploy(sims: SimulatorSet, url: str, home: Path) -> Deployment:
    """The ward's dossiers in the (fresh, migrated) database at `url`."""
    settings = ward_settings(sims, url, home)
    asyncio.run(load_ward(settings, sims))
    env = {
        **os.environ,
        "RECON_DATABASE_URL": url,
        "RECON_CONFIG": str(home / "recon.toml"),
        "PYTHONPATH": str(ROOT),
        **sims.recon_env(),
    }
    return Deployment(url, home, settings, env)
