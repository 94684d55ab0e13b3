"""A run: pull (unless told not to), store, match, judge, persist — for one business day.

The run takes the day's lease, pulls each channel (a failed channel makes the run partial and
its claims are not judged), then matches and judges in one transaction, and marks the
channel-days it reconciled. Its JSON (DESIGN 6) is returned whatever the outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import msgspec
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.base import RetryPolicy
from recon.db.models import LIVE_CASE_STATUSES, Case, ChannelDay, Run
from recon.db.session import refresh_statistics
from recon.matching.engine import run_engine
from recon.matching.resolve import DossierIndex, resolve_all
from recon.matching.types import EngineInput
from recon.runs import lease, loader
from recon.runs.persist import cases_in_scope, write_cases, write_matches
from recon.settings import FileChannel, Settings
from recon.statements.channels import channel_config
from recon.statements.pull import ChannelOutcome, pull_channel_day
from recon.statements.service import refuse_closed_days

log = logging.getLogger("recon.runs")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RunResult(msgspec.Struct, kw_only=True):
    """The run's JSON (DESIGN 6)."""

    run_id: int | None
    date: str
    status: str
    channels: dict[str, dict[str, Any]]
    matched: int = 0
    cases_opened: int = 0
    cases_closed: int = 0
    cases_open: int = 0


def run_status(outcomes: dict[str, ChannelOutcome]) -> str:
    tried = [o.status for o in outcomes.values() if o.status != "skipped"]
    if tried and all(status == "failed" for status in tried):
        return "failed"
    return "partial" if "failed" in tried else "succeeded"


async def reconcile_day(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    day: date,
    channel: str | None = None,
    pull: bool = True,
    client: httpx.AsyncClient | None = None,
    trigger: str = "cli",
    retry_policy: RetryPolicy | None = None,
    clock: Callable[[], datetime] = _utcnow,
) -> RunResult:
    channels = [channel] if channel else settings.channel_names()
    for name in channels:
        channel_config(settings, name)
    async with sessionmaker() as session:
        await refuse_closed_days(session, [day])
        run = Run(
            business_day=day, channel=channel, status="running", trigger=trigger, started_at=clock()
        )
        session.add(run)
        await session.commit()
        run_id = run.id
    try:
        await lease.acquire(sessionmaker, day, run_id, clock())
    except Exception as exc:
        await _mark_failed(sessionmaker, run_id, f"lease refused: {exc}", clock())
        raise
    try:
        outcomes = await _pull_all(
            sessionmaker, settings, day, channels, pull, client, run_id, retry_policy, clock
        )
        await lease.renew(sessionmaker, day, run_id, clock())
        result = await _match_and_judge(
            sessionmaker, settings, day, channels, outcomes, run_id, clock
        )
    except Exception as exc:
        # matching wrote nothing (one transaction); the run must not stay "running" forever
        await _mark_failed(sessionmaker, run_id, f"{type(exc).__name__}: {exc}", clock())
        raise
    finally:
        await lease.release(sessionmaker, day, run_id)
    log.info("run %d of %s: %s", run_id, day, result.status)
    return result


async def _mark_failed(
    sessionmaker: async_sessionmaker[AsyncSession], run_id: int, error: str, at: datetime
) -> None:
    async with sessionmaker() as session:
        await session.execute(
            update(Run).where(Run.id == run_id).values(status="failed", finished_at=at, error=error)
        )
        await session.commit()


async def _pull_all(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    day: date,
    channels: list[str],
    pull: bool,
    client: httpx.AsyncClient | None,
    run_id: int,
    retry_policy: RetryPolicy | None,
    clock: Callable[[], datetime],
) -> dict[str, ChannelOutcome]:
    outcomes: dict[str, ChannelOutcome] = {}
    own_client = client is None and pull
    http = client or httpx.AsyncClient()
    try:
        for name in channels:
            if not pull or isinstance(settings.channels[name], FileChannel):
                outcomes[name] = ChannelOutcome(status="skipped")
                continue
            outcomes[name] = await pull_channel_day(
                sessionmaker=sessionmaker,
                settings=settings,
                channel=name,
                day=day,
                client=http,
                run_id=run_id,
                retry_policy=retry_policy,
                clock=clock,
            )
            await lease.renew(sessionmaker, day, run_id, clock())
    finally:
        if own_client or client is None:
            await http.aclose()
    return outcomes


async def _match_and_judge(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    day: date,
    channels: list[str],
    outcomes: dict[str, ChannelOutcome],
    run_id: int,
    clock: Callable[[], datetime],
) -> RunResult:
    file_fed = [
        n for n in settings.channel_names() if isinstance(settings.channels[n], FileChannel)
    ]
    status = run_status(outcomes)
    now = clock()
    async with sessionmaker() as session:
        previous = (
            await session.execute(
                select(func.max(Run.started_at)).where(Run.id != run_id, Run.status != "running")
            )
        ).scalar_one_or_none()
        judged_rows = await loader.lines_to_judge(session, day, channels)
        known = {row.id for row in judged_rows}
        refunds = [row for row in judged_rows if row.kind == "refund"]
        context = await loader.refunded_payments(session, refunds, known)
        open_rows = judged_rows + context
        candidates = await loader.candidate_dossier_ids(session, open_rows)
        stored = await loader.stored_matches(session, [row.id for row in open_rows])
        first = await loader.load_dossiers(session, candidates)
        first_pass = resolve_all([loader.to_engine_line(r) for r in open_rows], DossierIndex(first))
        judged_dossiers = {r.dossier_id for r in first_pass.values() if r.dossier_id is not None}
        judged_dossiers |= {m.dossier_id for m in stored.values()}
        judged_dossiers |= await loader.dossiers_to_judge(session, day, previous)
        dossiers = {d.id: d for d in first}
        missing = judged_dossiers - dossiers.keys()
        dossiers.update((d.id, d) for d in await loader.load_dossiers(session, missing))
        open_ids = {row.id for row in open_rows}
        fixed = await loader.lines_of_dossiers(session, judged_dossiers, open_ids)
        lines = [loader.to_engine_line(row) for row in open_rows]
        lines += [loader.to_engine_line(row, owner, fixed=True) for row, owner in fixed]
        seen = open_ids | {row.id for row, _ in fixed}
        claimed = await loader.claimed_lines(session, list(dossiers.values()), seen)
        claimed_owner = await loader.stored_matches(session, [row.id for row in claimed])
        lines += [
            loader.to_engine_line(
                row,
                claimed_owner[row.id].dossier_id if row.id in claimed_owner else None,
                fixed=True,
            )
            for row in claimed
        ]
        scope = channels
        output = run_engine(
            EngineInput(
                dossiers=tuple(dossiers.values()),
                lines=tuple(lines),
                pulled=await loader.pulled_channel_days(session, file_fed, day),
                mismatches=tuple(await loader.control_mismatches(session, day, scope)),
                judge_dossier_ids=frozenset(judged_dossiers),
                judge_line_ids=frozenset(known),
            )
        )
        await write_matches(session, output.resolutions, stored, run_id=run_id, now=now)
        existing = await cases_in_scope(
            session,
            dossier_ids=judged_dossiers,
            line_ids=known,
            identities=[c.identity for c in output.cases],
            channel_days=[(c, day) for c in scope],
        )
        counts = await write_cases(session, output.cases, existing, run_id=run_id, now=now)
        await _mark_reconciled(session, day, channels, outcomes, file_fed, run_id, now)
        day_ids = {row.id for row in judged_rows if row.business_day == day}
        matched = sum(
            1 for r in output.resolutions if r.line_id in day_ids and r.dossier_id is not None
        )
        cases_open = (
            await session.execute(
                select(func.count())
                .select_from(Case)
                .where(Case.business_day == day, Case.status.in_(LIVE_CASE_STATUSES))
            )
        ).scalar_one()
        result = RunResult(
            run_id=run_id,
            date=day.isoformat(),
            status=status,
            channels={name: outcomes[name].as_json() for name in channels},
            matched=matched,
            cases_opened=counts.opened,
            cases_closed=counts.closed,
            cases_open=int(cases_open),
        )
        await session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(
                status=status,
                finished_at=clock(),
                matched=result.matched,
                cases_opened=result.cases_opened,
                cases_closed=result.cases_closed,
                cases_open=result.cases_open,
                result=msgspec.json.encode(result).decode(),
            )
        )
        await session.commit()
        await refresh_statistics(session)
    return result


async def _mark_reconciled(
    session: AsyncSession,
    day: date,
    channels: list[str],
    outcomes: dict[str, ChannelOutcome],
    file_fed: list[str],
    run_id: int,
    now: datetime,
) -> None:
    """A channel-day is reconciled when its statement was in for this run."""
    for name in channels:
        row = (
            await session.execute(
                select(ChannelDay).where(ChannelDay.channel == name, ChannelDay.business_day == day)
            )
        ).scalar_one_or_none()
        if name in file_fed:
            if row is None:
                row = ChannelDay(channel=name, business_day=day)
                session.add(row)
            row.reconciled_at, row.last_run_id = now, run_id
        elif (
            row is not None
            and row.fetch_status == "succeeded"
            and outcomes[name].status != "failed"
        ):
            row.reconciled_at, row.last_run_id = now, run_id
    await session.flush()
