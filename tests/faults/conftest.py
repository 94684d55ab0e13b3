"""The fault suite's shared ward: simulators over three days, the undisturbed run's ledger,
the ward loaded into the test's database (in-process) or deployed for `recon` processes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from fixtures.simulators.server import SimulatorSet, run_simulators
from recon.settings import Settings
from tests.faults.conservation import (
    Baseline,
    Deployment,
    baseline,
    deploy,
    load_ward,
    span,
    ward_settings,
)

START, END = date(2025, 11, 20), date(2025, 11, 22)
DAYS = span(START, END)


@pytest.fixture(scope="session")
def sims() -> Iterator[SimulatorSet]:
    with run_simulators(start=START, end=END, seed=15, dossiers_per_day=10) as running:
        yield running


@pytest.fixture
def healthy(sims: SimulatorSet) -> Iterator[SimulatorSet]:
    """The simulators with no fault and no injected day, before and after the test."""
    sims.reset()
    yield sims
    sims.reset()


@pytest.fixture(scope="session")
def undisturbed(
    sims: SimulatorSet, sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Baseline:
    """The ledger and live cases of DAYS after one undisturbed run of each."""
    sims.reset()
    return baseline(sims, sqlite_template, tmp_path_factory.mktemp("undisturbed"), DAYS)


@pytest.fixture
def ward(healthy: SimulatorSet, database_url: str, tmp_path: Path) -> Settings:
    """The ward's dossiers in the test's database, the channels at the simulators."""
    import asyncio

    settings = ward_settings(healthy, database_url, tmp_path / "home")
    asyncio.run(load_ward(settings, healthy))
    return settings


@pytest.fixture
def deployment(healthy: SimulatorSet, database_url: str, tmp_path: Path) -> Iterator[Deployment]:
    """The ward deployed for real `recon` processes; each one left alive is killed at the end."""
    deployed = deploy(healthy, database_url, tmp_path / "deployment")
    try:
        yield deployed
    finally:
        deployed.stop_all()
