"""The runs page (DESIGN 8, "Scheduling"): how the nights went, read-only and in Vietnamese.

`GET /lan-chay` shows each due day of the scheduler's lookback window, newest first, per
channel: its state, the channel's error in the day's latest run, what started that run, when it
started and finished (local time) and how many runs tried the day. A summary above gives each
channel's last reconciled day and the overdue days; below, the days that left the window
without success (given up: the scheduler no longer retries them) with the backfill command that
reconciles them. Everything comes from `recon.schedule.status.schedule_status`, the reading
the scheduler itself plans from.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from recon.clock import Clock
from recon.schedule.status import DayState, ScheduleStatus, schedule_status
from recon.settings import Settings

RUNS_PATH = "/lan-chay"

# a day's state: the status of schedule_status, or of the latest run for a given-up day
DAY_LABELS = {
    "succeeded": "Thành công",
    "partial": "Một phần",
    "failed": "Thất bại",
    "abandoned": "Bỏ dở",
    "running": "Đang chạy",
    "not_yet": "Chưa chạy",
}
CHANNEL_LABELS = {
    "succeeded": "Thành công",
    "failed": "Thất bại",
    "skipped": "Bỏ qua",  # not pulled in the latest run (`--no-pull`)
    "not_yet": "Chưa chạy",
}
TRIGGER_LABELS = {
    "manual": "Thủ công",
    "nightly": "Hằng đêm",
    "catch_up": "Chạy bù",
    "retry": "Chạy lại",
}


class ChannelRow(msgspec.Struct, kw_only=True):
    name: str
    status: str  # the state's key, for the page's colours
    label: str
    error: str | None


class DayRow(msgspec.Struct, kw_only=True):
    date: date
    status: str
    label: str
    closed: bool
    error: str | None  # the latest run's own error: a run that broke or was stopped
    trigger: str | None
    started: datetime | None  # local time
    finished: datetime | None
    runs: int
    channels: list[ChannelRow]


class Backfill(msgspec.Struct, kw_only=True):
    """Consecutive given-up days, and the one command that reconciles them."""

    start: date
    end: date
    command: str


class ChannelSummary(msgspec.Struct, kw_only=True):
    name: str
    last_succeeded: date | None
    overdue: int


def _local(moment: datetime | None, tz: ZoneInfo) -> datetime | None:
    return moment.astimezone(tz) if moment is not None else None


def day_row(day: DayState, tz: ZoneInfo) -> DayRow:
    """A day as the page shows it. A given-up day shows its latest run's status, as the window
    does: a succeeded run of one channel only leaves the day `partial`."""
    run = day.latest_run
    status = day.status
    if status == "given_up" and run is not None:
        status = "partial" if run.status == "succeeded" else run.status
    channels = []
    for name, state in day.channels.items():
        # a run in progress has written no channel yet: its channels are running, not waiting
        shown = "running" if state.status == "not_yet" and status == "running" else state.status
        label = DAY_LABELS["running"] if shown == "running" else CHANNEL_LABELS[shown]
        channels.append(ChannelRow(name=name, status=shown, label=label, error=state.error))
    return DayRow(
        date=day.date,
        status=status,
        label=DAY_LABELS.get(status, status),
        closed=day.closed,
        error=run.error if run is not None else None,
        trigger=TRIGGER_LABELS.get(run.trigger, run.trigger) if run is not None else None,
        started=_local(run.started_at, tz) if run is not None else None,
        finished=_local(run.finished_at, tz) if run is not None else None,
        runs=day.runs,
        channels=channels,
    )


def backfills(given_up: list[DayState]) -> list[Backfill]:
    """One `recon reconcile --from … --to …` per stretch of consecutive given-up days (the
    days between two stretches succeeded or are closed: no need to run them again)."""
    stretches: list[list[date]] = []
    for day in sorted(d.date for d in given_up):
        if stretches and stretches[-1][-1] + timedelta(days=1) == day:
            stretches[-1].append(day)
        else:
            stretches.append([day])
    return [
        Backfill(
            start=days[0],
            end=days[-1],
            command=f"recon reconcile --from {days[0].isoformat()} --to {days[-1].isoformat()}",
        )
        for days in stretches
    ]


def channel_summaries(status: ScheduleStatus) -> list[ChannelSummary]:
    return [
        ChannelSummary(name=name, last_succeeded=last, overdue=status.channel_overdue(name))
        for name, last in status.last_succeeded.items()
    ]


def _minutes(every: timedelta) -> int:
    return max(1, int(every.total_seconds() // 60))


@get(RUNS_PATH, include_in_schema=False)
async def runs_page(
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    clock: NamedDependency[Clock],
) -> Template:
    tz = ZoneInfo(settings.timezone)
    status = await schedule_status(db_session, settings, clock())
    window = [day_row(day, tz) for day in reversed(status.window)]
    context = {
        "ward_name": settings.ward_name,
        "now": status.now.astimezone(tz),
        "last_due_day": status.last_due_day,
        "window_start": status.window[0].date if status.window else None,
        "window": window,
        "summaries": channel_summaries(status),
        "overdue": len(status.overdue()),
        "nightly_at": settings.nightly_at,
        "retry_minutes": _minutes(settings.retry_every),
        "lookback_days": settings.schedule.lookback_days,
        "given_up": [day_row(day, tz) for day in reversed(status.given_up)],
        "backfills": backfills(status.given_up),
    }
    return Template(template_name="runs.html", context=context)
