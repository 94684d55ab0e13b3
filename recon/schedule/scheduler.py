"""The one scheduler (DESIGN 7): APScheduler 3's AsyncIOScheduler in the settings' time zone,
with fixed job ids, `coalesce`, `max_instances=1` and a misfire grace of hours.

Jobs: `recon-catch-up` once at start, `recon-nightly` at `schedule.nightly_at`, `recon-retry`
every `schedule.retry_every`. Correctness never depends on them: each run takes its day's
lease, so any number of schedulers may share one database.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from recon.schedule.work import NightlyWork
from recon.settings import Settings

JOB_CATCH_UP = "recon-catch-up"
JOB_NIGHTLY = "recon-nightly"
JOB_RETRY = "recon-retry"
MISFIRE_GRACE_SECONDS = 6 * 3600  # a process asleep at 01:30 still runs the night on waking

log = logging.getLogger("recon.schedule")


def build_scheduler(work: NightlyWork, settings: Settings) -> AsyncIOScheduler:
    tz = ZoneInfo(settings.timezone)
    scheduler = AsyncIOScheduler(
        timezone=tz,
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": MISFIRE_GRACE_SECONDS,
        },
    )
    scheduler.add_job(
        work.fire,
        DateTrigger(run_date=datetime.now(tz), timezone=tz),
        args=["start"],
        id=JOB_CATCH_UP,
        name="catch up the window at start",
    )
    at = settings.nightly_at
    scheduler.add_job(
        work.fire,
        CronTrigger(hour=at.hour, minute=at.minute, timezone=tz),
        args=["nightly"],
        id=JOB_NIGHTLY,
        name=f"nightly at {at:%H:%M}",
    )
    scheduler.add_job(
        work.fire,
        IntervalTrigger(seconds=settings.retry_every.total_seconds(), timezone=tz),
        args=["retry"],
        id=JOB_RETRY,
        name=f"retry every {settings.schedule.retry_every}",
    )
    return scheduler


@asynccontextmanager
async def scheduling(work: NightlyWork, settings: Settings) -> AsyncIterator[AsyncIOScheduler]:
    """The scheduler running on this loop; on exit it stops firing and the run in progress is
    abandoned whole (its judgement is one transaction that never commits)."""
    scheduler = build_scheduler(work, settings)
    scheduler.start()
    log.info(
        "scheduler started: nightly at %s %s, retry every %s, lookback %d days",
        f"{settings.nightly_at:%H:%M}",
        settings.timezone,
        settings.schedule.retry_every,
        settings.schedule.lookback_days,
    )
    try:
        yield scheduler
    finally:
        scheduler.shutdown(wait=False)
        await work.stop()
        log.info("scheduler stopped")
