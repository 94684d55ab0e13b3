"""What the scheduler does when it fires (DESIGN 8, "Scheduling"), with the clock injected so
tests move it instead of waiting for nights.

- `start` and `nightly`: every due day of the window that is not closed and has no succeeded
  run, oldest first, every configured channel: trigger `catch_up`, except the last due day at
  the nightly fire: `nightly`.
- `retry` (every `retry_every`): the same days; a day whose latest run is partial, failed or
  abandoned is run with trigger `retry`, a day no run has tried yet with `catch_up`.

Every run goes through the run lease: a day whose lease another process holds, or that
succeeded meanwhile, is skipped quietly, and a run that raises is logged with its day while
the others go on. Only one firing works at a time in a process.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import TYPE_CHECKING, Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from recon.clock import Clock, utcnow
from recon.runs import lease
from recon.runs.batch import Outcome, reconcile_days
from recon.schedule.status import ScheduleStatus, schedule_status
from recon.settings import Settings
from recon.vocab import RunTrigger

if TYPE_CHECKING:
    import httpx

    from adapters.base import RetryPolicy

log = logging.getLogger("recon.schedule")

Fire = Literal["start", "nightly", "retry"]
RETRIED = ("partial", "failed", "abandoned")


def plan(status: ScheduleStatus, fire: Fire) -> list[tuple[date, RunTrigger]]:
    """The (day, trigger) pairs a firing runs, oldest first."""
    chosen: list[tuple[date, RunTrigger]] = []
    for day in status.window:
        if day.closed or day.status == "succeeded":
            continue
        trigger: RunTrigger = "catch_up"
        if fire == "nightly" and day.date == status.last_due_day:
            trigger = "nightly"
        elif fire == "retry" and day.status in RETRIED:
            trigger = "retry"
        chosen.append((day.date, trigger))
    return chosen


class NightlyWork:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        clock: Clock = utcnow,
        client: httpx.AsyncClient | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.sessionmaker, self.settings, self.clock = sessionmaker, settings, clock
        self.client, self.retry_policy = client, retry_policy
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[list[Outcome]]] = set()
        self._stopping = False

    async def fire(self, fire: Fire) -> list[Outcome]:
        """One firing; stopping the work (`stop`) abandons its run in progress whole."""
        if self._stopping:
            return []
        task = asyncio.create_task(self._fire(fire), name=f"recon {fire}")
        self._tasks.add(task)
        try:
            return await task
        except asyncio.CancelledError:
            if self._stopping and task.cancelled():
                return []
            raise
        except Exception as exc:  # the database away, say: logged, and the next firing tries
            log.error("%s: the firing failed: %s: %s", fire, type(exc).__name__, exc)
            return []
        finally:
            self._tasks.discard(task)

    async def stop(self) -> None:
        """Cancel the firing in progress: its run is marked abandoned, its lease released."""
        self._stopping = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _fire(self, fire: Fire) -> list[Outcome]:
        if not self.settings.channels:
            log.info("%s: no channel is configured; nothing to reconcile", fire)
            return []
        async with self._lock:
            now = self.clock()
            abandoned = await lease.sweep(self.sessionmaker, now)
            if abandoned:
                log.warning("runs %s stopped renewing their leases: abandoned", abandoned)
            async with self.sessionmaker() as session:
                status = await schedule_status(session, self.settings, now)
            chosen = plan(status, fire)
            if not chosen:
                return []
            log.info(
                "%s: %d day(s) to run: %s",
                fire,
                len(chosen),
                ", ".join(f"{day} ({trigger})" for day, trigger in chosen),
            )
            return await reconcile_days(
                sessionmaker=self.sessionmaker,
                settings=self.settings,
                plan=chosen,
                scheduled=True,
                client=self.client,
                retry_policy=self.retry_policy,
                clock=self.clock,
            )
