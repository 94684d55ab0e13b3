"""The APScheduler wiring (DESIGN 7): one AsyncIOScheduler in the settings' zone, fixed job
ids, coalesce, max_instances=1, a misfire grace of hours; the catch-up fires at start, and
stopping abandons the firing in progress instead of waiting for it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from recon.schedule.scheduler import (
    JOB_CATCH_UP,
    JOB_NIGHTLY,
    JOB_RETRY,
    build_scheduler,
    scheduling,
)
from recon.schedule.work import NightlyWork
from recon.settings import load_settings

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def settings_with(tmp_path: Any, schedule: str) -> Any:
    config = tmp_path / "recon.toml"
    config.write_text(f"[schedule]\n{schedule}\n", encoding="utf-8")
    return load_settings({"RECON_CONFIG": str(config)})


class Recorder(NightlyWork):
    """The work, recording its firings instead of running days."""

    def __init__(self, settings: Any, hold: bool = False) -> None:
        super().__init__(sessionmaker=None, settings=settings)  # type: ignore[arg-type]
        self.fired: list[str] = []
        self.hold = hold

    async def _fire(self, fire: Any) -> list[Any]:
        self.fired.append(fire)
        if self.hold:
            await asyncio.sleep(3600)
        return []


async def test_the_jobs_have_fixed_ids_and_the_contracts_defaults(tmp_path: Any) -> None:
    settings = settings_with(tmp_path, 'nightly_at = "02:15"\nretry_every = "20m"')
    scheduler = build_scheduler(Recorder(settings), settings)
    scheduler.start(paused=True)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {JOB_CATCH_UP, JOB_NIGHTLY, JOB_RETRY}
        for job in jobs.values():
            assert job.coalesce is True
            assert job.max_instances == 1
            assert job.misfire_grace_time >= 3600
        assert str(scheduler.timezone) == "Asia/Ho_Chi_Minh"
        nightly = jobs[JOB_NIGHTLY]
        assert isinstance(nightly.trigger, CronTrigger)
        after = datetime(2025, 11, 28, 9, 0, tzinfo=HCM)
        assert nightly.trigger.get_next_fire_time(None, after) == datetime(
            2025, 11, 29, 2, 15, tzinfo=HCM
        )
        assert nightly.args == ("nightly",)
        retry = jobs[JOB_RETRY]
        assert isinstance(retry.trigger, IntervalTrigger)
        assert retry.trigger.interval == timedelta(minutes=20)
        assert retry.args == ("retry",)
        assert jobs[JOB_CATCH_UP].args == ("start",)
    finally:
        scheduler.shutdown(wait=False)


async def test_the_catch_up_fires_at_start(tmp_path: Any) -> None:
    settings = settings_with(tmp_path, "")
    work = Recorder(settings)
    async with scheduling(work, settings):
        for _ in range(200):
            if work.fired:
                break
            await asyncio.sleep(0.01)
    assert work.fired == ["start"]


async def test_stopping_cancels_the_firing_in_progress(tmp_path: Any) -> None:
    settings = settings_with(tmp_path, "")
    work = Recorder(settings, hold=True)
    async with asyncio.timeout(5), scheduling(work, settings):
        while not work._tasks:  # noqa: ASYNC110 - APScheduler starts the firing on its own
            await asyncio.sleep(0.01)
        (task,) = work._tasks
    assert task.cancelled()
    assert await work.fire("retry") == []  # a stopped work fires no more
    assert work.fired == ["start"]


@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
async def test_the_host_zone_does_not_move_the_nightly_time(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, zone: str
) -> None:
    monkeypatch.setenv("TZ", zone)
    settings = settings_with(tmp_path, 'nightly_at = "01:30"')
    scheduler = build_scheduler(Recorder(settings), settings)
    after = datetime(2025, 11, 28, 9, 0, tzinfo=HCM)
    nightly = next(j for j in scheduler.get_jobs() if j.id == JOB_NIGHTLY)
    assert nightly.trigger.get_next_fire_time(None, after) == datetime(
        2025, 11, 29, 1, 30, tzinfo=HCM
    )


async def test_a_firing_that_fails_is_logged_and_the_next_one_goes_on(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_with(tmp_path, "")
    calls: list[str] = []

    class Flaky(Recorder):
        async def _fire(self, fire: Any) -> list[Any]:
            calls.append(fire)
            if len(calls) == 1:
                raise ConnectionRefusedError("database away")
            return []

    work = Flaky(settings)
    with caplog.at_level("ERROR", logger="recon.schedule"):
        assert await work.fire("nightly") == []
    assert [r.getMessage() for r in caplog.records] == [
        "nightly: the firing failed: ConnectionRefusedError: database away"
    ]
    assert await work.fire("retry") == []
    assert calls == ["nightly", "retry"]
