"""`recon reconcile --from D --to D`: one run per day, oldest first, in one process; a JSON list
of runs; the exit status of the worst (refused 4 > failed 1 > partial 3 > succeeded 0), on
SQLite and PostgreSQL (DESIGN 6; 8 "Scheduling")."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from fixtures.simulators.server import SimulatorSet, run_simulators
from recon.db.models import LedgerDay, Run, RunLease
from recon.db.session import open_database
from recon.settings import Settings, load_settings
from tests.helpers import one_error_line
from tests.runs.test_reconcile import D1, ward

__all__ = ["ward"]

BEFORE, AFTER = "2025-11-23", "2025-11-25"  # D1 = 2025-11-24 is the ward's day of lines
RUN_FIELDS = {
    "run_id",
    "date",
    "status",
    "channels",
    "matched",
    "cases_opened",
    "cases_closed",
    "cases_open",
}
CHANNEL_FIELDS = {"status", "lines", "inserted", "duplicates", "error"}
CHANNELS = {"momo", "portal", "bank", "vnpay"}
EXIT = {"succeeded": 0, "partial": 3, "failed": 1, "refused": 4}
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
NO_PULL = ("--no-pull", "--json")


def query(settings: Settings, statement: Any) -> list[Any]:
    async def go() -> list[Any]:
        async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
            return list((await s.execute(statement)).all())

    return asyncio.run(go())


def execute(settings: Settings, statement: Any) -> None:
    async def go() -> None:
        async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
            await s.execute(statement)
            await s.commit()

    asyncio.run(go())


def stored_runs(settings: Settings) -> list[tuple[int, str, str, str]]:
    """(id, day, status, trigger) of every stored run, oldest first."""
    rows = query(
        settings, select(Run.id, Run.business_day, Run.status, Run.trigger).order_by(Run.id)
    )
    return [(i, d.isoformat(), s, t) for i, d, s, t in rows]


def close_day(settings: Settings, day: str) -> None:
    execute(
        settings,
        insert(LedgerDay).values(
            business_day=date.fromisoformat(day), status="closed", note="chốt sổ"
        ),
    )


def hold_lease(settings: Settings, day: str) -> None:
    now = datetime.now(UTC)
    execute(
        settings,
        insert(RunLease).values(
            business_day=date.fromisoformat(day),
            holder="other-host:4242",
            acquired_at=now,
            expires_at=now + timedelta(minutes=10),
        ),
    )


def reconcile_range(run_cli: Callable[..., Any], start: str, end: str, *extra: str) -> Any:
    return run_cli("reconcile", "--from", start, "--to", end, "--no-pull", "--json", *extra)


def local_today() -> date:
    return datetime.now(LOCAL).date()


# --- a range that runs ----------------------------------------------------------------------


def test_a_range_prints_one_run_per_day_oldest_first_and_exits_0(
    run_cli: Callable[..., Any], settings: Settings, ward: None
) -> None:
    result = reconcile_range(run_cli, BEFORE, AFTER)
    assert result.code == 0, result
    assert result.err == ""
    runs = json.loads(result.out)
    assert isinstance(runs, list)
    assert [r["date"] for r in runs] == [BEFORE, D1, AFTER]
    for run in runs:
        assert set(run) >= RUN_FIELDS, run
        assert run["status"] == "succeeded"
        assert set(run["channels"]) == CHANNELS
        for part in run["channels"].values():
            assert set(part) >= CHANNEL_FIELDS
            assert (part["status"], part["error"]) == ("skipped", None)  # --no-pull, file-fed
    ids = [r["run_id"] for r in runs]
    assert all(isinstance(i, int) for i in ids)
    assert ids == sorted(set(ids))  # distinct, and made in the order printed
    # the day with lines matched them and opened its cases (as a run of that day alone does)
    by_day = {r["date"]: r for r in runs}
    assert by_day[D1]["matched"] == 5
    assert by_day[D1]["cases_opened"] == by_day[D1]["cases_open"] == 4
    assert (by_day[BEFORE]["matched"], by_day[BEFORE]["cases_open"]) == (0, 0)
    # every run is stored, as made by hand
    assert stored_runs(settings) == [
        (ids[0], BEFORE, "succeeded", "manual"),
        (ids[1], D1, "succeeded", "manual"),
        (ids[2], AFTER, "succeeded", "manual"),
    ]
    assert query(settings, select(RunLease)) == []  # every day's lease released


def test_a_range_of_one_day_is_still_a_list(
    run_cli: Callable[..., Any], settings: Settings, ward: None
) -> None:
    result = reconcile_range(run_cli, D1, D1, "--channel", "vnpay")
    assert result.code == 0, result
    [run] = json.loads(result.out)
    assert (run["date"], run["status"], set(run["channels"])) == (D1, "succeeded", {"vnpay"})
    assert [r[1:] for r in stored_runs(settings)] == [(D1, "succeeded", "manual")]


def test_a_range_without_json_prints_a_readable_line_per_run(
    run_cli: Callable[..., Any], settings: Settings, ward: None
) -> None:
    close_day(settings, AFTER)
    result = run_cli("reconcile", "--from", BEFORE, "--to", AFTER, "--no-pull")
    assert result.code == 4, result
    headlines = [line for line in result.out.splitlines() if not line.startswith(" ")]
    ids = [r[0] for r in stored_runs(settings)]
    assert len(headlines) == 3
    assert headlines[0].startswith(f"run {ids[0]} of {BEFORE}: succeeded")
    assert headlines[1].startswith(f"run {ids[1]} of {D1}: succeeded; matched 5")
    assert headlines[2].startswith(f"run of {AFTER}: refused; ")
    assert "closed" in headlines[2]
    one_error_line(result.err)


# --- refusals within a range ----------------------------------------------------------------


def test_a_closed_day_in_the_middle_is_refused_and_the_others_run(
    run_cli: Callable[..., Any], settings: Settings, ward: None
) -> None:
    close_day(settings, D1)
    result = reconcile_range(run_cli, BEFORE, AFTER)
    assert result.code == 4, result
    reason = one_error_line(result.err)
    assert reason.startswith("1 of 3 runs refused"), reason
    runs = json.loads(result.out)
    assert [(r["date"], r["status"]) for r in runs] == [
        (BEFORE, "succeeded"),
        (D1, "refused"),
        (AFTER, "succeeded"),
    ]
    refused = runs[1]
    assert refused["run_id"] is None
    assert "closed" in refused["reason"]
    assert refused["reason"] in reason  # the error line says why
    assert set(refused) >= RUN_FIELDS
    assert {p["status"] for p in refused["channels"].values()} == {"skipped"}
    assert (refused["matched"], refused["cases_opened"], refused["cases_open"]) == (0, 0, 0)
    assert all(isinstance(r["run_id"], int) for r in (runs[0], runs[2]))
    # the refusal is no run: only the two days that ran are stored
    assert [r[1:] for r in stored_runs(settings)] == [
        (BEFORE, "succeeded", "manual"),
        (AFTER, "succeeded", "manual"),
    ]


def test_a_held_lease_refuses_its_day_and_stores_no_run_for_it(
    run_cli: Callable[..., Any], settings: Settings, ward: None
) -> None:
    hold_lease(settings, AFTER)
    result = reconcile_range(run_cli, BEFORE, AFTER, "--channel", "vnpay")
    assert result.code == 4, result
    reason = one_error_line(result.err)
    runs = json.loads(result.out)
    assert [(r["date"], r["status"]) for r in runs] == [
        (BEFORE, "succeeded"),
        (D1, "succeeded"),
        (AFTER, "refused"),
    ]
    refused = runs[2]
    assert refused["run_id"] is None
    assert "being reconciled by other-host:4242" in refused["reason"]
    assert refused["reason"] in reason
    assert refused["channels"] == {
        "vnpay": {
            "status": "skipped",
            "lines": 0,
            "inserted": 0,
            "duplicates": 0,
            "updated": 0,
            "error": None,
        }
    }
    days = [day for _, day, _, _ in stored_runs(settings)]
    assert days == [BEFORE, D1]  # no run row for the refused day, not even a failed one
    # and the other run's lease is untouched
    [(holder,)] = query(settings, select(RunLease.holder))
    assert holder == "other-host:4242"


def test_several_refusals_are_counted_in_the_one_error_line(
    run_cli: Callable[..., Any], settings: Settings, ward: None
) -> None:
    close_day(settings, BEFORE)
    hold_lease(settings, AFTER)
    result = reconcile_range(run_cli, BEFORE, AFTER)
    assert result.code == 4, result
    reason = one_error_line(result.err)
    assert reason.startswith("2 of 3 runs refused"), reason
    runs = json.loads(result.out)
    assert [r["status"] for r in runs] == ["refused", "succeeded", "refused"]
    assert [r[1] for r in stored_runs(settings)] == [D1]


# --- bad ranges -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", AFTER, "--to", BEFORE), f"--from {AFTER} is after --to {BEFORE}"),
        (("--date", D1, "--from", BEFORE, "--to", AFTER), "not both"),
        (("--date", D1, "--to", AFTER), "not both"),
        (("--from", BEFORE), "--from D --to D"),
        (("--to", AFTER), "--from D --to D"),
        ((), "give --date D"),
        (("--from", "2024-11-24", "--to", "2025-11-25"), "at most 366 days"),  # 367 days
        (("--from", "2025-02-30", "--to", AFTER), "--from: '2025-02-30' is not a date"),
        (("--from", BEFORE, "--to", "25/11/2025"), "--to: '25/11/2025' is not a date"),
        (("--from", BEFORE, "--to", AFTER, "--channel", "paypal"), "unknown channel 'paypal'"),
    ],
    ids=[
        "from after to",
        "date and range",
        "date and to",
        "only from",
        "only to",
        "nothing",
        "367 days",
        "bad from",
        "bad to",
        "unknown channel",
    ],
)
def test_a_bad_range_exits_2_with_one_line_and_runs_nothing(
    run_cli: Callable[..., Any],
    settings: Settings,
    args: tuple[str, ...],
    message: str,
) -> None:
    result = run_cli("reconcile", "--no-pull", "--json", *args)
    assert result.code == 2, result
    assert result.out == ""
    assert message in one_error_line(result.err)
    assert stored_runs(settings) == []


def test_a_range_of_366_days_is_not_too_long(
    run_cli: Callable[..., Any], settings: Settings
) -> None:
    """366 days are allowed (a leap year): the range here is refused only because its last
    day is still to come, which shows the size was accepted."""
    tomorrow = local_today() + timedelta(days=1)
    start = tomorrow - timedelta(days=365)
    result = reconcile_range(run_cli, start.isoformat(), tomorrow.isoformat())
    assert result.code == 2, result
    reason = one_error_line(result.err)
    assert "at most" not in reason
    assert "has not come yet" in reason
    assert stored_runs(settings) == []


def test_a_day_to_come_in_the_range_refuses_the_whole_range(
    run_cli: Callable[..., Any], settings: Settings
) -> None:
    today = local_today()
    tomorrow = today + timedelta(days=1)
    result = reconcile_range(run_cli, (today - timedelta(days=2)).isoformat(), tomorrow.isoformat())
    assert result.code == 2, result
    assert result.out == ""
    reason = one_error_line(result.err)
    assert f"business day {tomorrow.isoformat()} has not come yet" in reason
    assert stored_runs(settings) == []  # not even the days that have come ran


def test_a_range_ending_today_runs(run_cli: Callable[..., Any], settings: Settings) -> None:
    today = local_today()
    result = reconcile_range(run_cli, (today - timedelta(days=1)).isoformat(), today.isoformat())
    assert result.code == 0, result
    assert [r["date"] for r in json.loads(result.out)] == [
        (today - timedelta(days=1)).isoformat(),
        today.isoformat(),
    ]


# --- one process ----------------------------------------------------------------------------


def test_the_range_runs_every_day_in_one_process(
    environ: dict[str, str], settings: Settings, ward: None
) -> None:
    recon = Path(sys.executable).parent / "recon"
    days = [date(2025, 11, 20) + timedelta(days=n) for n in range(6)]
    done = subprocess.run(
        [str(recon), "reconcile", "--from", "2025-11-20", "--to", "2025-11-25", *NO_PULL],
        env={**os.environ, **environ},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    runs = json.loads(done.stdout)
    assert [r["date"] for r in runs] == [d.isoformat() for d in days]
    assert {r["status"] for r in runs} == {"succeeded"}
    stored = stored_runs(settings)
    assert [r[0] for r in stored] == [r["run_id"] for r in runs]
    assert [(d, s, t) for _, d, s, t in stored] == [
        (d.isoformat(), "succeeded", "manual") for d in days
    ]


# --- the worst status, with channels that answer, fail or refuse ---------------------------

SIM_START, SIM_END = date(2025, 11, 20), date(2025, 11, 23)
SIM_DAYS = [SIM_START + timedelta(days=n) for n in range((SIM_END - SIM_START).days + 1)]


@pytest.fixture(scope="module")
def sims() -> Iterator[SimulatorSet]:
    with run_simulators(start=SIM_START, end=SIM_END, seed=5, dossiers_per_day=4) as running:
        yield running


@pytest.fixture
def pulled(
    sims: SimulatorSet,
    database_url: str,
    tmp_path: Path,
    run_cli: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Settings]:
    """The CLI pointed at the simulators' three pulled channels."""
    sims.reset()
    config = tmp_path / "sims.toml"
    config.write_text(sims.recon_config_toml(), encoding="utf-8")
    env = {"RECON_DATABASE_URL": database_url, "RECON_CONFIG": str(config), **sims.recon_env()}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield load_settings(env)
    sims.reset()


def refuse_statement(sims: SimulatorSet, channel: str, day: date) -> None:
    """The channel refuses the day's statement with a 401: not retried, the channel fails."""
    getattr(sims, channel).faults.add({"type": "http_401", "date": day.isoformat()})


@pytest.mark.parametrize(
    ("faults", "closed", "statuses", "worst"),
    [
        ({}, None, ["succeeded"] * 4, "succeeded"),
        ({1: ["portal"]}, None, ["succeeded", "partial", "succeeded", "succeeded"], "partial"),
        (
            {1: ["portal"], 2: ["momo", "portal", "bank"]},
            None,
            ["succeeded", "partial", "failed", "succeeded"],
            "failed",
        ),
        (
            {1: ["portal"], 2: ["momo", "portal", "bank"]},
            3,
            ["succeeded", "partial", "failed", "refused"],
            "refused",
        ),
    ],
    ids=["all succeed", "partial beats succeeded", "failed beats partial", "refused beats all"],
)
def test_the_exit_status_is_the_worst_runs(
    sims: SimulatorSet,
    pulled: Settings,
    run_cli: Callable[..., Any],
    faults: dict[int, list[str]],
    closed: int | None,
    statuses: list[str],
    worst: str,
) -> None:
    for index, channels in faults.items():
        for channel in channels:
            refuse_statement(sims, channel, SIM_DAYS[index])
    if closed is not None:
        close_day(pulled, SIM_DAYS[closed].isoformat())
    result = run_cli(
        "reconcile", "--from", SIM_START.isoformat(), "--to", SIM_END.isoformat(), "--json"
    )
    assert result.code == EXIT[worst], result
    runs = json.loads(result.out)
    assert [r["date"] for r in runs] == [d.isoformat() for d in SIM_DAYS]
    assert [r["status"] for r in runs] == statuses
    for run, day in zip(runs, SIM_DAYS, strict=True):
        failing = set(faults.get(SIM_DAYS.index(day), []))
        if run["status"] == "refused":
            continue
        for name, part in run["channels"].items():
            assert part["status"] == ("failed" if name in failing else "succeeded"), (day, part)
            assert (part["error"] is None) == (name not in failing)
    if worst == "succeeded":
        assert result.err == ""
    else:
        reason = one_error_line(result.err)
        assert reason.startswith(f"1 of 4 runs {worst}"), reason
    assert [s for _, _, s, _ in stored_runs(pulled)] == [s for s in statuses if s != "refused"]
