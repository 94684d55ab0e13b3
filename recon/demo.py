"""`recon demo`: the channel simulators, a generated ward, its last 30 days reconciled, served.

The demo always talks to the simulators (started here, in a child process, stopped on exit):
its channels are theirs, whatever RECON_CONFIG says. A database that already holds dossiers is
served as it is, with no demo data added. `recon demo --load-only` starts nothing and serves
nothing: it loads from the channels of RECON_CONFIG, simulators already running elsewhere
(docker compose's demo profile), and exits.
"""

from __future__ import annotations

import json
import socket
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fixtures.simulators.server import SimulatorProcess, spawn_simulators
from fixtures.ward import generate_ward
from recon.auth.service import create_user
from recon.cases import workflow
from recon.clock import utcnow
from recon.db.migrate import upgrade
from recon.db.models import Case, Dossier
from recon.db.session import open_database
from recon.domain import business_day_of
from recon.dossiers.imports import import_dossier_bytes
from recon.runs.batch import reconcile_days
from recon.runs.schemas import RunResult
from recon.settings import Settings, load_settings
from recon.vocab import LIVE_CASE_STATUSES

DEMO_DAYS = 30
# the demo database's own accounts: a demo is not a deployment, and its page needs a login
DEMO_USERS = (("ketoan", "accountant"), ("duyet", "approver"), ("xem", "viewer"))
DEMO_PASSWORD = "demo-password"  # noqa: S105 - published with the demo, never a deployment
DEMO_SEED = 2024
PORT_BASE = 9100
# the demo ward's fees are small: a lower threshold than the default's 500,000 ₫ lets one of
# its write-offs wait for an approver, as a ward's larger ones do
DEMO_WRITE_OFF_APPROVAL = 100_000
# a channel-day whose statement disagrees with its own control totals (a simulator fault)
WRONG_TOTALS_DAYS_BEFORE_END = 3
# what the demo's accountant has already done: (case type, resolution, note)
DEMO_RESOLUTIONS = (
    ("UNDERPAID", "accepted", "Công dân đã nộp phần còn thiếu bằng tiền mặt tại quầy."),
    ("PAYMENT_ON_CLOSED_DOSSIER", "refund_requested", "Đã lập đề nghị hoàn tiền cho công dân."),
    ("STATUS_CONFLICT", "channel_dispute", "Đã gửi yêu cầu tra soát tới kênh thanh toán."),
    ("OVERPAID", "refund_requested", "Hoàn lại phần nộp thừa theo đơn của công dân."),
)
WRITE_OFF_NOTE = "Không xác định được người nộp sau 30 ngày; đề nghị xóa sổ."


def demo_range(today: date | None = None, days: int = DEMO_DAYS) -> tuple[date, date]:
    today = today or business_day_of(utcnow())
    end = today - timedelta(days=1)
    return end - timedelta(days=days - 1), end


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
    wrong = end - timedelta(days=WRONG_TOTALS_DAYS_BEFORE_END)
    return spawn_simulators(
        port_base=base,
        seed=DEMO_SEED,
        start=start,
        end=end,
        faults=[f"momo:wrong_totals:date={wrong.isoformat()}"] if wrong >= start else [],
    )


def demo_settings(settings: Settings, sims: SimulatorProcess, config_dir: Path) -> Settings:
    """The deployment's settings, with the simulators as its channels."""
    from fixtures.simulators.server import recon_config_toml

    config_dir.mkdir(parents=True, exist_ok=True)
    config = config_dir / "demo.toml"
    config.write_text(
        f"ward_name = {json.dumps(settings.ward_name, ensure_ascii=False)}\n"
        f"[thresholds]\nwrite_off_approval = {DEMO_WRITE_OFF_APPROVAL}\n"
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
        worked = await work_the_queue(sessionmaker, settings)
    opened = sum(run.cases_opened for run in runs)
    return {
        "loaded": True,
        "dossiers": summary.inserted,
        "days": len(runs),
        "cases_opened": opened,
        "message": (
            f"demo ward loaded: {summary.inserted} dossiers, {len(runs)} days reconciled "
            f"({start.isoformat()} to {end.isoformat()}), {opened} cases opened, "
            f"{len(worked['cases_resolved'])} resolved, "
            f"{'one' if worked['write_off_pending'] else 'no'} write-off awaiting approval; sign "
            f"in to the web page as ketoan (accountant), duyet (approver) or xem (viewer) with "
            f"the password {DEMO_PASSWORD!r}"
        ),
        "users": [name for name, _ in DEMO_USERS],
        **worked,
    }


async def work_the_queue(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> dict[str, Any]:
    """A morning's work already done by the demo's accountant: one case of each of a few types
    resolved, and the largest write-off above the threshold waiting for the approver."""
    accountant = DEMO_USERS[0][0]
    resolved: list[int] = []
    async with sessionmaker() as session:
        live = (
            await session.execute(
                select(Case.id, Case.type, Case.expected_amount, Case.actual_amount)
                .where(Case.status.in_(LIVE_CASE_STATUSES))
                .order_by(Case.id)
            )
        ).all()
    first_of: dict[str, int] = {}
    for case in live:
        first_of.setdefault(case.type, case.id)
    for case_type, resolution, note in DEMO_RESOLUTIONS:
        if case_type in first_of:
            async with sessionmaker() as session:
                resolved += await workflow.resolve(
                    db_session=session,
                    case_ids=[first_of[case_type]],
                    resolution=resolution,
                    username=accountant,
                    note=note,
                    settings=settings,
                    now=utcnow(),
                    via="demo",
                )
    at_stake = [
        (abs((c.actual_amount or 0) - (c.expected_amount or 0)), c.id)
        for c in live
        if c.id not in resolved and c.type in ("UNMATCHED_PAYMENT", "AMBIGUOUS_REFERENCE")
    ]
    pending = None
    largest = max(at_stake, default=None)
    if largest is not None and largest[0] > settings.thresholds.write_off_approval:
        pending = largest[1]
        async with sessionmaker() as session:
            await workflow.resolve(
                db_session=session,
                case_ids=[pending],
                resolution="written_off",
                username=accountant,
                note=WRITE_OFF_NOTE,
                settings=settings,
                now=utcnow(),
                via="demo",
            )
    return {"cases_resolved": resolved, "write_off_pending": pending}
