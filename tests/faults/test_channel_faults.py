"""Every simulator fault switch against a run, on SQLite and PostgreSQL (issue 15, part 4).

A fault that the adapter cannot get past leaves its channel-day `failed` and not reconciled,
stores no line of it, and makes the run `partial`; wrong control totals also open the
channel-day's `CONTROL_TOTAL_MISMATCH` (DESIGN 8). A fault the adapter gets past (a delay, a
line delivered twice) leaves a succeeded day with each line once. Once the fault clears, the
next run of the day picks it up, and conservation holds: the books equal an undisturbed run's.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from fixtures.simulators.faults import ALL_TYPES
from fixtures.simulators.server import SimulatorSet
from recon.db.models import Case, ChannelDay
from recon.settings import Settings
from tests.faults.conftest import DAYS
from tests.faults.conservation import (
    Baseline,
    check_conservation,
    run_days,
    stored_totals,
    sync_engine,
)

pytestmark = pytest.mark.e2e

FAULTY_DAY = DAYS[1]

# (channel, fault): every switch of fixtures/simulators/faults.py, persistent (`times` null)
# so the adapter's five attempts all meet it
FAILING: list[tuple[str, dict[str, Any]]] = [
    ("portal", {"type": "http_500"}),
    ("bank", {"type": "http_status", "status": 503}),
    ("momo", {"type": "http_status", "status": 400}),
    ("bank", {"type": "http_429", "retry_after": 1}),
    ("portal", {"type": "http_401"}),
    ("momo", {"type": "result_code"}),  # 99, system busy: retried, then given up
    ("momo", {"type": "result_code", "code": 11}),  # bad signature: no retry
    ("bank", {"type": "bank_error"}),
    ("momo", {"type": "bad_signature"}),
    ("portal", {"type": "truncated"}),
    ("momo", {"type": "wrong_totals"}),
    ("portal", {"type": "wrong_totals", "count_delta": 0}),  # only the amount is off
    ("bank", {"type": "wrong_totals"}),
]
SURVIVED: list[tuple[str, dict[str, Any]]] = [
    ("portal", {"type": "duplicate"}),
    ("momo", {"type": "duplicate"}),
    ("bank", {"type": "delay", "seconds": 0.3}),
]


def test_the_parametrization_covers_every_fault_switch() -> None:
    assert {fault["type"] for _, fault in FAILING + SURVIVED} == ALL_TYPES


def _id(channel: str, fault: dict[str, Any]) -> str:
    extra = "-".join(f"{k}={v}" for k, v in fault.items() if k != "type")
    return "-".join(p for p in (channel, fault["type"], extra) if p)


def channel_day(settings: Settings, channel: str, day: date) -> Any:
    with sync_engine(settings.database_url).connect() as connection:
        return connection.execute(
            select(ChannelDay).where(ChannelDay.channel == channel, ChannelDay.business_day == day)
        ).one()


def live_control_cases(settings: Settings) -> list[tuple[str, str | None, date]]:
    with sync_engine(settings.database_url).connect() as connection:
        rows = connection.execute(
            select(Case.status, Case.channel, Case.business_day).where(
                Case.type == "CONTROL_TOTAL_MISMATCH"
            )
        ).all()
    return [(r.status, r.channel, r.business_day) for r in rows]


@pytest.mark.parametrize(("channel", "fault"), FAILING, ids=[_id(*f) for f in FAILING])
def test_a_channel_fault_fails_its_day_until_it_clears_and_nothing_is_lost(
    healthy: SimulatorSet,
    ward: Settings,
    undisturbed: Baseline,
    channel: str,
    fault: dict[str, Any],
) -> None:
    sim = getattr(healthy, channel)
    sim.faults.add({**fault, "date": FAULTY_DAY.isoformat()})
    runs = asyncio.run(run_days(ward, DAYS))

    by_day = {date.fromisoformat(r.date): r for r in runs}
    assert [by_day[d].status for d in DAYS if d != FAULTY_DAY] == ["succeeded"] * (len(DAYS) - 1)
    faulty = by_day[FAULTY_DAY]
    assert faulty.status == "partial", faulty
    assert faulty.channels[channel]["status"] == "failed"
    assert faulty.channels[channel]["error"]  # says what went wrong
    others = {n: c["status"] for n, c in faulty.channels.items() if n != channel}
    assert set(others.values()) <= {"succeeded", "skipped"}, others
    marked = channel_day(ward, channel, FAULTY_DAY)
    assert (marked.fetch_status, marked.reconciled_at, marked.pulled_at) == ("failed", None, None)
    engine = sync_engine(ward.database_url)
    assert stored_totals(engine, channel, FAULTY_DAY)[0] == 0  # nothing of a failed pull
    engine.dispose()
    mismatch = [("open", channel, FAULTY_DAY)] if fault["type"] == "wrong_totals" else []
    assert live_control_cases(ward) == mismatch

    sim.faults.clear()
    [retried] = asyncio.run(run_days(ward, [FAULTY_DAY]))
    assert retried.status == "succeeded", retried
    assert channel_day(ward, channel, FAULTY_DAY).reconciled_at is not None
    # the mismatch no longer holds once the day's statement agrees with itself
    assert [c for c in live_control_cases(ward) if c[0] in ("open", "reopened")] == []
    check_conservation(ward.database_url, healthy, DAYS, ward, undisturbed)


@pytest.mark.parametrize(("channel", "fault"), SURVIVED, ids=[_id(*f) for f in SURVIVED])
def test_a_fault_the_adapter_gets_past_leaves_each_line_once(
    healthy: SimulatorSet,
    ward: Settings,
    undisturbed: Baseline,
    channel: str,
    fault: dict[str, Any],
) -> None:
    getattr(healthy, channel).faults.add({**fault, "date": FAULTY_DAY.isoformat()})
    runs = asyncio.run(run_days(ward, DAYS))
    assert [r.status for r in runs] == ["succeeded"] * len(DAYS), runs
    assert channel_day(ward, channel, FAULTY_DAY).reconciled_at is not None
    check_conservation(ward.database_url, healthy, DAYS, ward, undisturbed)
