"""Runs: making one (pull unless told not to, store, match, judge, persist — for one business
day) and reading them back.

The run takes the day's lease, pulls each channel (a failed channel makes the run partial and
its claims are not judged), then matches and judges in one transaction, and marks the
channel-days it reconciled. Its JSON (DESIGN 6) is returned whatever the outcome.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import date, datetime
from typing import TYPE_CHECKING

import msgspec
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from recon.clock import Clock, utcnow
from recon.db.models import Case, ChannelDay, Run
from recon.db.session import refresh_statistics
from recon.db.sets import dialect_of
from recon.domain import MAX_ID
from recon.errors import FieldError, NotFound, ReconError
from recon.matching.engine import run_engine
from recon.runs import lease, loader
from recon.runs.persist import cases_in_scope, write_cases, write_matches
from recon.runs.schemas import RunResult
from recon.settings import FileChannel, Settings
from recon.statements.channels import channel_config
from recon.statements.fetches import refuse_closed_days, refuse_days_to_come
from recon.statements.schemas import ChannelOutcome
from recon.system.logs import log_context
from recon.system.metrics import observe_run
from recon.vocab import LIVE_CASE_STATUSES, RunTrigger

if TYPE_CHECKING:  # a run that pulls nothing never imports the HTTP client or the adapters
    import httpx

    from adapters.base import RetryPolicy

log = logging.getLogger("recon.runs")


class RunBroke(ReconError):
    """A run that raised (a bug, the database gone): stored `failed`, its JSON kept here so the
    caller can print it as DESIGN 6 wants a run's JSON printed whatever its outcome."""

    def __init__(self, detail: str, result: RunResult) -> None:
        super().__init__(detail)
        self.result = result


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
    trigger: RunTrigger = "manual",
    retry_policy: RetryPolicy | None = None,
    clock: Clock = utcnow,
) -> RunResult:
    """One run of `day`. A closed day, or a day whose lease another run holds, raises Conflict
    and leaves no run behind."""
    result = await _reconcile(
        sessionmaker, settings, day, channel, pull, client, trigger, retry_policy, clock, False
    )
    assert result is not None  # only a run told to skip a succeeded day returns None
    return result


async def reconcile_if_due(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    day: date,
    client: httpx.AsyncClient | None = None,
    trigger: RunTrigger,
    retry_policy: RetryPolicy | None = None,
    clock: Clock = utcnow,
) -> RunResult | None:
    """The scheduler's run of `day`, every channel: None (no run) when the day has succeeded
    meanwhile, which is checked once the lease is held so two processes never both run it."""
    return await _reconcile(
        sessionmaker, settings, day, None, True, client, trigger, retry_policy, clock, True
    )


async def _reconcile(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    day: date,
    channel: str | None,
    pull: bool,
    client: httpx.AsyncClient | None,
    trigger: RunTrigger,
    retry_policy: RetryPolicy | None,
    clock: Clock,
    unless_succeeded: bool,
) -> RunResult | None:
    channels = [channel] if channel else settings.channel_names()
    for name in channels:
        channel_config(settings, name)
    refuse_days_to_come([day], clock())
    run_id = await _start(sessionmaker, day, channel, trigger, clock, unless_succeeded)
    if run_id is None:
        return None
    # every line logged during the run (its pulls', the adapters' retries) says which run
    with log_context(run_id=run_id, channel=channel, business_day=day):
        heartbeat = lease.Heartbeat(sessionmaker, day, run_id, clock)
        started = time.monotonic()
        outcomes: dict[str, ChannelOutcome] = {}
        try:
            async with heartbeat.running():
                outcomes = await _pull_all(
                    sessionmaker,
                    settings,
                    day,
                    channels,
                    pull,
                    client,
                    run_id,
                    retry_policy,
                    clock,
                    heartbeat,
                )
                heartbeat.check()
                result = await _match_and_judge(
                    sessionmaker, settings, day, channels, outcomes, run_id, clock, heartbeat
                )
        except (asyncio.CancelledError, lease.LeaseLost) as exc:
            # stopped (SIGTERM) or taken over: the judgement is one transaction, so nothing of it
            # was written; the day is free for the next run at once
            why = str(exc) if isinstance(exc, lease.LeaseLost) else "stopped before it finished"
            await _finish_broken(sessionmaker, run_id, "abandoned", why, clock())
            observe_run("abandoned", trigger, time.monotonic() - started)
            raise
        except Exception as exc:
            # matching wrote nothing (one transaction); the run must not stay "running" forever
            error = broken_reason(exc)
            await _finish_broken(sessionmaker, run_id, "failed", error, clock())
            observe_run("failed", trigger, time.monotonic() - started)
            skipped = ChannelOutcome(status="skipped")
            broken = RunResult(
                run_id=run_id,
                date=day.isoformat(),
                status="failed",
                channels={name: outcomes.get(name, skipped).as_json() for name in channels},
                error=error,
            )
            raise RunBroke(f"run {run_id} of {day} failed: {error}", broken) from exc
        finally:
            await lease.release(sessionmaker, day, run_id)
        observe_run(result.status, trigger, time.monotonic() - started)
        log.info("run %d of %s (%s): %s", run_id, day, trigger, result.status)
        return result


def broken_reason(exc: Exception) -> str:
    """One line for a run that raised. A database error's text carries its whole statement
    and parameters (thousands of characters, over several lines): that made the run's error
    unprintable as one line, and on a full disk too big to store, so the run stayed `running`
    (found by tests/faults/test_sqlite_faults.py). The driver's own message says enough."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return f"{type(exc).__name__}: {str(exc.orig).strip()}"
    return f"{type(exc).__name__}: {exc}"


async def _start(
    sessionmaker: async_sessionmaker[AsyncSession],
    day: date,
    channel: str | None,
    trigger: RunTrigger,
    clock: Clock,
    unless_succeeded: bool,
) -> int | None:
    """The run's row and the day's lease, in one transaction: a refusal leaves neither."""
    async with sessionmaker() as session:
        await refuse_closed_days(session, [day])
        run = Run(
            business_day=day, channel=channel, status="running", trigger=trigger, started_at=clock()
        )
        session.add(run)
        await session.flush()
        await lease.take(session, day, run.id, clock())
        if unless_succeeded and await day_succeeded(session, day):
            await session.rollback()
            return None
        await session.commit()
        return run.id


async def day_succeeded(session: AsyncSession, day: date) -> bool:
    """Whether a run of every channel has succeeded for `day`."""
    query = select(Run.id).where(
        Run.business_day == day, Run.status == "succeeded", Run.channel.is_(None)
    )
    return (await session.execute(query.limit(1))).first() is not None


async def _finish_broken(
    sessionmaker: async_sessionmaker[AsyncSession],
    run_id: int,
    status: str,
    error: str,
    at: datetime,
) -> None:
    """End a run that did not finish: `failed` or `abandoned`, unless it already ended (a run
    taken over was marked `abandoned` by the run that took its day)."""
    async with sessionmaker() as session:
        await session.execute(
            update(Run)
            .where(Run.id == run_id, Run.status == "running")
            .values(status=status, finished_at=at, error=error)
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
    clock: Clock,
    heartbeat: lease.Heartbeat,
) -> dict[str, ChannelOutcome]:
    outcomes: dict[str, ChannelOutcome] = {}
    pulled = [
        name for name in channels if pull and not isinstance(settings.channels[name], FileChannel)
    ]
    for name in channels:
        if name not in pulled:
            outcomes[name] = ChannelOutcome(status="skipped")
    if not pulled:
        return outcomes
    import httpx

    from recon.statements.pull import pull_channel_day

    http = client or httpx.AsyncClient()
    try:
        for name in pulled:
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
            heartbeat.check()
    finally:
        if client is None:
            await http.aclose()
    return outcomes


async def _match_and_judge(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    day: date,
    channels: list[str],
    outcomes: dict[str, ChannelOutcome],
    run_id: int,
    clock: Clock,
    heartbeat: lease.Heartbeat,
) -> RunResult:
    file_fed = [
        n for n in settings.channel_names() if isinstance(settings.channels[n], FileChannel)
    ]
    status = run_status(outcomes)
    now = clock()
    async with sessionmaker() as session, heartbeat.quiet(dialect_of(session) == "sqlite"):
        if dialect_of(session) == "postgresql":
            await lease.judge_alone(session)
            # the run's statements are short: compiling them (PostgreSQL's JIT starts above a
            # cost the big IN sets reach) took longer than running them
            await session.execute(text("SET LOCAL jit = off"))
        loaded = await loader.load(
            session,
            day=day,
            channels=channels,
            file_fed=file_fed,
            since=await _last_judged(session, run_id),
            waiting=frozenset(n for n in channels if outcomes[n].status == "failed"),
        )
        # in a thread: the loop stays free to renew the lease while the engine works
        output = await asyncio.to_thread(run_engine, loaded.engine_input)
        await write_matches(session, output.resolutions, loaded.stored, run_id=run_id, now=now)
        # only what the engine judged now may change: what rests on a channel that failed in
        # this run waits for a run that gets its statement (DESIGN 8; issue 10)
        existing = await cases_in_scope(
            session,
            dossier_ids=output.nets.keys(),  # the dossiers the engine judged
            line_ids=loaded.judged_line_ids - output.held_line_ids,
            identities=[c.identity for c in output.cases],
            channel_days=[(c, day) for c in loaded.statements_in],
        )
        counts = await write_cases(session, output.cases, existing, run_id=run_id, now=now)
        await _mark_reconciled(session, day, channels, outcomes, file_fed, run_id, now)
        day_ids = loaded.day_line_ids
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
        await lease.confirm(session, day, run_id, clock())
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


async def _last_judged(session: AsyncSession, run_id: int) -> datetime | None:
    """When the latest run that judged everything it was given started: dossiers changed since
    are judged again. A run that broke judged nothing (its error is set), and a run with a
    failed channel held back what rested on it, so neither counts."""
    query = select(func.max(Run.started_at)).where(
        Run.id != run_id, Run.status == "succeeded", Run.error.is_(None)
    )
    return (await session.execute(query)).scalar_one_or_none()


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
        elif row is not None and row.pulled_at is not None and outcomes[name].status != "failed":
            row.reconciled_at, row.last_run_id = now, run_id
    await session.flush()


# --- reading runs -------------------------------------------------------------------------


async def list_runs(*, db_session: AsyncSession, day: date | None, limit: int) -> list[Run]:
    """The newest `limit` runs, of `day` only where given."""
    query = select(Run).order_by(Run.id.desc()).limit(limit)
    if day is not None:
        query = query.where(Run.business_day == day)
    return list((await db_session.execute(query)).scalars())


async def get_run(*, db_session: AsyncSession, run_id: int) -> Run:
    """One run, or NotFound naming `run_id`."""
    run = await db_session.get(Run, run_id) if 1 <= run_id <= MAX_ID else None
    if run is None:
        reason = f"no run with id {run_id}"
        raise NotFound(reason, [FieldError("run_id", reason)])
    return run
