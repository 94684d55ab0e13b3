"""Batch work gives way to the API: `recon reconcile` and `recon scheduler` lower their own CPU
priority (`recon.clitools.background_priority`), so a big run beside `recon serve` on shared
cores slows the API's answers less (bench/status_api.py, the scenario during a run)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from recon.clitools import BATCH_NICENESS

PRIORITY = (
    "import os; from recon.clitools import background_priority as p; "
    "print(os.nice(0), p(), os.nice(0), p())"
)


class Calls:
    """Stands in for `background_priority`, counting the calls."""

    def __init__(self) -> None:
        self.made = 0

    def __call__(self) -> int:
        self.made += 1
        return BATCH_NICENESS


def niceness_after(start: int) -> list[int]:
    """The niceness a fresh interpreter started at `start` reports around two calls."""
    done = subprocess.run(
        [sys.executable, "-c", PRIORITY],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=lambda: os.nice(start),
    )
    return [int(n) for n in done.stdout.split()]


def test_a_process_at_normal_priority_drops_to_the_batch_niceness_once() -> None:
    base = os.nice(0)
    if base >= BATCH_NICENESS:
        pytest.skip(f"this test runs at niceness {base} already")
    assert niceness_after(0) == [base, BATCH_NICENESS, BATCH_NICENESS, BATCH_NICENESS]


def test_an_operators_lower_priority_stands() -> None:
    lower = BATCH_NICENESS + 5 - os.nice(0)
    assert niceness_after(lower)[1:] == [BATCH_NICENESS + 5] * 3


@pytest.mark.parametrize("command", [["reconcile", "--date", "2025-11-24", "--no-pull"]])
def test_reconcile_asks_for_the_batch_priority(
    run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    calls = Calls()
    # recorded rather than applied: the test runner itself keeps its priority
    monkeypatch.setattr("recon.runs.cli.background_priority", calls)
    result = run_cli(*command, "--json")
    assert result.code == 0, result.err
    assert calls.made == 1


def test_the_scheduler_asks_for_the_batch_priority(
    run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import recon.schedule.cli as scheduler_cli

    calls = Calls()
    monkeypatch.setattr(scheduler_cli, "background_priority", calls)
    # stopped at once: what matters is what it asked for before it began serving
    monkeypatch.setattr(asyncio, "run", lambda coro: coro.close())
    monkeypatch.setattr("recon.system.logs.configure_logging", lambda **_: None)
    result = run_cli("scheduler", "--json")
    assert result.code == 0, result.err
    assert calls.made == 1
