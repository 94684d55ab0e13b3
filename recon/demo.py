"""`recon demo`: the channel simulators, a generated ward, its last 30 days reconciled, served.

The demo always talks to the simulators (started here, in a child process, stopped on exit):
its channels are theirs, whatever RECON_CONFIG says. A database that already holds dossiers is
served as it is, with no demo data added.
"""

from __future__ import annotations

import json
import socket
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import func, select

from fixtures.simulators.server import SimulatorProcess, spawn_simulators
from fixtures.ward import generate_ward
from recon.auth.service import create_user
from recon.clock import utcnow
from recon.db.migrate import upgrade
from recon.db.models import Dossier
from recon.db.session import open_database
from recon.domain import business_day_of
from recon.dossiers.imports import import_dossier_bytes
from recon.runs.batch import reconcile_days
from recon.runs.schemas import RunResult
from recon.settings import Settings, load_settings

DEMO_DAYS = 30
# the demo database's own accounts: a demo is not a deployment, and its page needs a login
DEMO_USERS = (("ketoan", "accountant"), ("duyet", "approver"))
DEMO_PASSWORD = "demo-password"  # noqa: S105 - published with the demo, never a deployment
DEMO_SEED = 2024
PORT_BASE = 9100


def demo_range(today: date | None = None) -> tuple[date, date]:
    today = today or business_day_of(utcnow())
    end = today - timedelta(days=1)
    return end - timedelta(days=DEMO_DAYS - 1), end


def _ports_free(base: int) -> bool:
    for offset in (1, 2, 3):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", base + offset)) == 0:
                return False
    return True


def start_simulators(start: date, end: date) -> SimulatorProcess:
    base = PORT_BASE
    while not _ports_free(base):  # another demo or service holds them: move up
        base += 10
    return spawn_simulators(port_base=base, seed=DEMO_SEED, start=start, end=end)


def demo_settings(settings: Settings, sims: SimulatorProcess, config_dir: Path) -> Settings:
    """The deployment's settings, with the simulators as its channels."""
    from fixtures.simulators.server import recon_config_toml

    config_dir.mkdir(parents=True, exist_ok=True)
    config = config_dir / "demo.toml"
    config.write_text(
        f"ward_name = {json.dumps(settings.ward_name, ensure_ascii=False)}\n"
        + recon_config_toml(sims.urls, sims.credentials),
        encoding="utf-8",
    )
    environ = {
        "RECON_DATABASE_URL": settings.database_url,
        "RECON_CONFIG": str(config),
        **sims.credentials.recon_env(),
    }
    return load_settings(environ)


async def load_demo(settings: Settings, start: date, end: date) -> dict[str, Any]:
    """Migrate; into an empty database load the ward and reconcile every day of the range."""
    await upgrade(settings.database_url)
    async with open_database(settings.database_url) as sessionmaker:
        async with sessionmaker() as session:
            count = (await session.execute(select(func.count()).select_from(Dossier))).scalar_one()
        if count:
            return {
                "loaded": False,
                "dossiers": count,
                "message": f"database already holds {count} dossiers; demo data not loaded",
            }
        ward = generate_ward(start=start, end=end, seed=DEMO_SEED)
        data = msgspec.json.encode(ward.dossiers)
        summary = await import_dossier_bytes(settings, "demo-ward.json", data, source="demo")
        # the range path of `recon reconcile --from --to`: one HTTP client, oldest day first
        days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
        runs = [
            run
            for run in await reconcile_days(
                sessionmaker=sessionmaker,
                settings=settings,
                plan=[(day, "manual") for day in days],
            )
            if isinstance(run, RunResult)
        ]
        async with sessionmaker() as session:
            for username, role in DEMO_USERS:
                await create_user(
                    db_session=session,
                    username=username,
                    role=role,
                    password=DEMO_PASSWORD,
                    now=utcnow(),
                )
    opened = sum(run.cases_opened for run in runs)
    return {
        "loaded": True,
        "dossiers": summary.inserted,
        "days": len(runs),
        "cases_opened": opened,
        "message": (
            f"demo ward loaded: {summary.inserted} dossiers, {len(runs)} days reconciled "
            f"({start.isoformat()} to {end.isoformat()}), {opened} cases opened; sign in to "
            f"the web page as ketoan or duyet with the password {DEMO_PASSWORD!r}"
        ),
        "users": [name for name, _ in DEMO_USERS],
    }
