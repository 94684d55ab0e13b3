"""A property of DESIGN 4: runs leave cases as people left them. After any sequence of actions
(links to any dossier, resolutions, write-offs approved or rejected, reopens, refusals among
them), a re-run of the day changes nothing: no case, match or event. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon.settings import Settings
from tests.cases.conftest import (
    CLOSED_DOSSIER,
    EXTRA,
    OVERPAID,
    UNDERPAID,
    UNMATCHED,
    make_people,
    make_queue,
)
from tests.cases.test_links import HALF_PAID, PAID_ONE, stored
from tests.conftest import _truncate_postgres
from tests.runs.test_reconcile import D1, reconcile

CASES = (UNDERPAID, OVERPAID, CLOSED_DOSSIER, UNMATCHED)
ACTIONS = (
    ("resolve", "linked", EXTRA),
    ("resolve", "linked", PAID_ONE),
    ("resolve", "linked", HALF_PAID),
    ("resolve", "accepted", None),
    ("resolve", "written_off", None),
    ("approve", None, None),
    ("reject", None, None),
    ("reopen", None, None),
)
steps = st.lists(st.tuples(st.sampled_from(ACTIONS), st.sampled_from(CASES)), max_size=6)


def fresh_database(request: pytest.FixtureRequest, database_url: str) -> None:
    """The test's database back to a migrated, empty one (each example starts from nothing)."""
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite+aiosqlite:///"))
        for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            if stale.exists():
                os.remove(stale)
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    else:
        _truncate_postgres(database_url)


def test_a_re_run_after_any_sequence_of_actions_changes_nothing(
    request: pytest.FixtureRequest,
    run_cli: Callable[..., Any],
    settings: Settings,
    database_url: str,
    tmp_path: Path,
) -> None:
    @settings_for_database
    @given(steps)
    def check(sequence: list[tuple[tuple[str, str | None, str | None], str]]) -> None:
        fresh_database(request, database_url)
        make_people(run_cli, settings)
        queue = make_queue(run_cli, tmp_path)
        for (action, resolution, dossier), key in sequence:
            args = ["cases", action, str(queue[key]), "--note", "thử"]
            args += ["--user", "duyet" if action in ("approve", "reject") else "ketoan"]
            if resolution is not None:
                args += ["--resolution", resolution]
            if dossier is not None:
                args += ["--dossier", dossier]
            assert run_cli(*args).code in (0, 2, 4)  # a refusal is one of the sequences too
        before = asyncio.run(stored(settings))
        run = reconcile(run_cli, D1, "--channel", "vnpay")
        assert (run["cases_opened"], run["cases_closed"]) == (0, 0)
        assert asyncio.run(stored(settings)) == before

    check()


settings_for_database = settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
