"""Runs of several days in one process, oldest first: `recon reconcile --from --to` and the
scheduler's catch-up and retries take this one path (one process, one HTTP client, one
database engine for the whole range).

Each day is its own run, with its own lease: a day that is closed or whose lease another run
holds is refused (no run) and the next day goes on.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from recon.clock import Clock, utcnow
from recon.errors import Conflict
from recon.runs.schemas import RefusedRun, RunResult
from recon.runs.service import RunBroke, reconcile_day, reconcile_if_due
from recon.settings import Settings
from recon.statements.channels import channel_config
from recon.statements.fetches import refuse_days_to_come
from recon.statements.schemas import ChannelOutcome
from recon.system.logs import log_context
from recon.vocab import RunTrigger

if TYPE_CHECKING:
    import httpx

    from adapters.base import RetryPolicy

log = logging.getLogger("recon.runs")

Outcome = RunResult | RefusedRun


def refused_run(settings: Settings, day: date, channel: str | None, reason: str) -> RefusedRun:
    channels = [channel] if channel else settings.channel_names()
    skipped = ChannelOutcome(status="skipped").as_json()
    return RefusedRun(
        date=day.isoformat(), reason=reason, channels={name: dict(skipped) for name in channels}
    )


async def reconcile_days(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    plan: Sequence[tuple[date, RunTrigger]],
    channel: str | None = None,
    pull: bool = True,
    scheduled: bool = False,
    client: httpx.AsyncClient | None = None,
    retry_policy: RetryPolicy | None = None,
    clock: Clock = utcnow,
    after_each: Callable[[], object] | None = None,
) -> list[Outcome]:
    """Run each (day, trigger) of `plan`, oldest first. A refusal is reported in the list and
    the range goes on; so does a run that broke (stored `failed`, its JSON in the list).
    `scheduled` runs every channel, skips a day that has succeeded meanwhile (no entry), stops
    at a day held by another run (the later days are that run's to judge, in order), and logs
    whatever else raises with its day and goes on; otherwise that raises. `after_each` is
    called after each day (the CLI collects the cycles a run left, its collector paused)."""
    plan = sorted(plan)
    if channel is not None:
        channel_config(settings, channel)
    refuse_days_to_come([day for day, _ in plan], clock())
    async with contextlib.AsyncExitStack() as stack:
        if pull and client is None:  # one client for the whole range, made only to pull
            import httpx

            client = await stack.enter_async_context(httpx.AsyncClient())
        return await _each(
            sessionmaker,
            settings,
            plan,
            channel=channel,
            pull=pull,
            scheduled=scheduled,
            client=client,
            retry_policy=retry_policy,
            clock=clock,
            after_each=after_each,
        )


async def _each(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    plan: Sequence[tuple[date, RunTrigger]],
    *,
    channel: str | None,
    pull: bool,
    scheduled: bool,
    client: httpx.AsyncClient | None,
    retry_policy: RetryPolicy | None,
    clock: Clock,
    after_each: Callable[[], object] | None,
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for day, trigger in plan:
        if after_each is not None and outcomes:
            after_each()
        with log_context(business_day=day):
            try:
                if scheduled:
                    done = await reconcile_if_due(
                        sessionmaker=sessionmaker,
                        settings=settings,
                        day=day,
                        client=client,
                        trigger=trigger,
                        retry_policy=retry_policy,
                        clock=clock,
                    )
                    if done is None:
                        log.info("%s: succeeded meanwhile, skipped", day)
                        continue
                else:
                    done = await reconcile_day(
                        sessionmaker=sessionmaker,
                        settings=settings,
                        day=day,
                        channel=channel,
                        pull=pull,
                        client=client,
                        trigger=trigger,
                        retry_policy=retry_policy,
                        clock=clock,
                    )
                outcomes.append(done)
            except Conflict as refusal:
                outcomes.append(refused_run(settings, day, channel, refusal.detail))
                if scheduled:
                    # another process holds the day (or it is closed): it goes on oldest first, so
                    # the later days are left to it rather than judged before this one
                    log.info("%s: skipped, and the days after it; %s", day, refusal.detail)
                    break
            except RunBroke as broke:
                outcomes.append(broke.result)
                # the scheduler goes on: the day is tried again at the next retry
                log.error("%s: the %s run broke: %s", day, trigger, broke.result.error)
            except Exception as exc:
                if not scheduled:
                    raise
                log.error("%s: the %s run raised %s: %s", day, trigger, type(exc).__name__, exc)
    return outcomes
