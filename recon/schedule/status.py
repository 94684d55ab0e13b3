"""The state of the nights: each due day of the lookback window, per channel, read from the
runs and channel-days (DESIGN 8). The scheduler plans from it; `/metrics` and the runs page
show it.

A day is `succeeded` once a run of every channel succeeded; otherwise it shows its latest
run's status (`partial`, `failed`, `abandoned`, `running`; a succeeded run of one channel only
is `partial`: the other channels are still due), or `not_yet` when no run tried it.
A channel-day is `succeeded` once reconciled with its statement in, `failed` when the day's
latest run failed it, else `not_yet`. A day before the window that a run tried and that never
succeeded is `given_up`: no longer retried, it waits for an operator's backfill.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from recon.db.models import ChannelDay, LedgerDay, Run
from recon.runs.schemas import RunView
from recon.schedule.due import due_window, last_due_day
from recon.schemas import Out
from recon.settings import Settings

# how far before the window a day that never succeeded is still shown as given up
GIVEN_UP_REACH = timedelta(days=90)


class ChannelState(Out):
    status: str  # succeeded, failed, skipped, not_yet
    error: str | None = None


class DayState(Out):
    date: date
    in_window: bool
    closed: bool
    status: str  # succeeded, partial, failed, abandoned, running, not_yet, given_up
    channels: dict[str, ChannelState]
    latest_run: RunView | None
    runs: int  # how many runs tried it


class ScheduleStatus(Out):
    now: datetime
    last_due_day: date
    window: list[DayState]  # oldest first
    given_up: list[DayState]  # oldest first, before the window
    last_succeeded: dict[str, date | None]  # per channel, any day

    def overdue(self) -> list[DayState]:
        """Due days of the window, not closed, without a succeeded run (DESIGN 8)."""
        return [d for d in self.window if not d.closed and d.status != "succeeded"]

    def channel_overdue(self, channel: str) -> int:
        return sum(
            1
            for d in self.window
            # skipped too: a run without pulls (`--no-pull`) reconciled nothing of a pulled channel
            if not d.closed and d.channels[channel].status != "succeeded"
        )

    def channel_given_up(self, channel: str) -> int:
        return sum(1 for d in self.given_up if d.channels[channel].status != "succeeded")


async def schedule_status(
    session: AsyncSession, settings: Settings, now: datetime
) -> ScheduleStatus:
    tz = ZoneInfo(settings.timezone)
    window = due_window(now, settings.nightly_at, tz, settings.schedule.lookback_days)
    last_due = last_due_day(now, settings.nightly_at, tz)
    first = (window[0] if window else last_due + timedelta(days=1)) - GIVEN_UP_REACH
    runs: dict[date, list[Run]] = {}
    for run in (
        await session.execute(
            select(Run).where(Run.business_day.between(first, last_due)).order_by(Run.id)
        )
    ).scalars():
        runs.setdefault(run.business_day, []).append(run)
    reconciled = {
        (channel, day)
        for channel, day in await session.execute(
            select(ChannelDay.channel, ChannelDay.business_day).where(
                ChannelDay.business_day.between(first, last_due),
                ChannelDay.reconciled_at.is_not(None),
            )
        )
    }
    closed = set(
        (
            await session.execute(
                select(LedgerDay.business_day).where(
                    LedgerDay.business_day.between(first, last_due), LedgerDay.status == "closed"
                )
            )
        ).scalars()
    )
    names = settings.channel_names()

    def state(day: date, in_window: bool) -> DayState:
        tried = runs.get(day, [])
        latest = tried[-1] if tried else None
        view = RunView.of(latest) if latest is not None else None
        succeeded = any(r.status == "succeeded" and r.channel is None for r in tried)
        if succeeded:
            status = "succeeded"
        elif latest is None:
            status = "not_yet"
        elif not in_window:
            status = "given_up"
        elif latest.status == "succeeded":  # a run of one channel: the others are still due
            status = "partial"
        else:
            status = latest.status
        channels = {}
        for name in names:
            if (name, day) in reconciled:
                channels[name] = ChannelState(status="succeeded")
                continue
            part = view.channels.get(name, {}) if view is not None else {}
            if part.get("status") in ("failed", "skipped"):
                channels[name] = ChannelState(status=part["status"], error=part.get("error"))
            else:
                channels[name] = ChannelState(status="not_yet")
        return DayState(
            date=day,
            in_window=in_window,
            closed=day in closed,
            status=status,
            channels=channels,
            latest_run=view,
            runs=len(tried),
        )

    window_days = set(window)
    given_up = [
        state(day, False)
        for day in sorted(runs)
        if day not in window_days and day < (window[0] if window else last_due + timedelta(1))
    ]
    # (a Result has keys(): dict() would read it as a mapping, not as pairs)
    last = {  # noqa: C416
        channel: day
        for channel, day in await session.execute(
            select(ChannelDay.channel, func.max(ChannelDay.business_day))
            .where(ChannelDay.reconciled_at.is_not(None))
            .group_by(ChannelDay.channel)
        )
    }
    return ScheduleStatus(
        now=now,
        last_due_day=last_due,
        window=[state(day, True) for day in window],
        given_up=[d for d in given_up if d.status == "given_up" and not d.closed],
        last_succeeded={name: last.get(name) for name in names},
    )
