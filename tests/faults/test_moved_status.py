"""A channel that delivers a line again days later with its status moved (issue 15, part 4),
on SQLite and PostgreSQL: the stored line is updated, never doubled, the move is kept in
`line_status_changes`, and the cases follow: the books and the live cases end as an
undisturbed run over the final statuses leaves them.
"""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from fixtures.simulators.server import SimulatorSet
from recon.db.models import LineStatusChange, StatementLineRow
from recon.settings import Settings
from tests.faults.conftest import DAYS
from tests.faults.conservation import (
    baseline,
    check_conservation,
    live_cases,
    run_days,
    sync_engine,
)

pytestmark = pytest.mark.e2e

DAY = DAYS[1]
SETTLES = "GD20251121000002"  # pending at first, then success (dossier H17.25-251121-0004)
REVERSES = "GD20251121000009"  # success at first, then reversed (dossier H17.25-251121-0015)


def portal_day(sims: SimulatorSet, moved: dict[str, str]) -> list[dict[str, Any]]:
    lines = copy.deepcopy(sims.portal.lines(DAY))
    found = {line["maGiaoDich"] for line in lines}
    assert set(moved) <= found, found  # the ward these tests are built on
    for line in lines:
        if line["maGiaoDich"] in moved:
            line["trangThai"] = moved[line["maGiaoDich"]]
    return lines


def stored(settings: Settings) -> dict[str, tuple[int, str]]:
    with sync_engine(settings.database_url).connect() as connection:
        rows = connection.execute(
            select(
                StatementLineRow.id, StatementLineRow.channel_txn_id, StatementLineRow.status
            ).where(StatementLineRow.channel_txn_id.in_([SETTLES, REVERSES]))
        ).all()
    return {r.channel_txn_id: (r.id, r.status) for r in rows}


def status_history(settings: Settings) -> list[tuple[int, str, str]]:
    with sync_engine(settings.database_url).connect() as connection:
        rows = connection.execute(select(LineStatusChange).order_by(LineStatusChange.id)).all()
    return [(r.line_id, r.status_before, r.status_after) for r in rows]


def test_a_line_delivered_again_with_a_moved_status_is_updated_and_its_cases_follow(
    healthy: SimulatorSet, ward: Settings, sqlite_template: Path, tmp_path: Path
) -> None:
    first = portal_day(healthy, {SETTLES: "DANG_XU_LY"})
    healthy.portal.set_lines(DAY, first)
    assert {r.status for r in asyncio.run(run_days(ward, DAYS))} == {"succeeded"}
    before = stored(ward)
    assert {k: v[1] for k, v in before.items()} == {SETTLES: "pending", REVERSES: "success"}
    engine = sync_engine(ward.database_url)
    # a line still pending once the day after its own is in: a STATUS_CONFLICT
    assert any(c[0] == "STATUS_CONFLICT" for c in live_cases(engine))

    # days later the channel delivers the day again: one line settled, another reversed
    final = portal_day(healthy, {SETTLES: "THANH_CONG", REVERSES: "DA_HUY"})
    healthy.portal.set_lines(DAY, final)
    [rerun] = asyncio.run(run_days(ward, [DAY]))
    assert rerun.status == "succeeded", rerun
    assert rerun.channels["portal"]["updated"] == 2
    after = stored(ward)
    assert {k: v[1] for k, v in after.items()} == {SETTLES: "success", REVERSES: "reversed"}
    assert {k: v[0] for k, v in after.items()} == {k: v[0] for k, v in before.items()}
    assert status_history(ward) == [
        (before[SETTLES][0], "pending", "success"),
        (before[REVERSES][0], "success", "reversed"),
    ] or status_history(ward) == [
        (before[REVERSES][0], "success", "reversed"),
        (before[SETTLES][0], "pending", "success"),
    ]
    engine.dispose()

    # an older status seen again is no move (DESIGN 8): the line stays reversed
    healthy.portal.set_lines(DAY, first)
    [stale] = asyncio.run(run_days(ward, [DAY]))
    assert stale.channels["portal"]["updated"] == 0
    assert {k: v[1] for k, v in stored(ward).items()} == {SETTLES: "success", REVERSES: "reversed"}
    assert len(status_history(ward)) == 2

    healthy.portal.set_lines(DAY, final)  # and the day as it stands, once more
    [again] = asyncio.run(run_days(ward, [DAY]))
    assert (again.status, again.channels["portal"]["updated"]) == ("succeeded", 0)
    expected = baseline(healthy, sqlite_template, tmp_path / "undisturbed", DAYS)
    check_conservation(ward.database_url, healthy, DAYS, ward, expected)
