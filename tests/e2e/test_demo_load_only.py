"""`recon demo --load-only`: compose's demo loader. It loads from the simulators RECON_CONFIG
names (running elsewhere), starts none, serves nothing, and exits (issue 15)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.simulators import run_simulators
from fixtures.simulators.server import SimulatorSet
from recon.cli import main
from recon.demo import DEMO_SEED, demo_range

pytestmark = pytest.mark.e2e
DAYS = 3


@pytest.fixture(scope="module")
def sims() -> Iterator[SimulatorSet]:
    start, end = demo_range(days=DAYS)
    with run_simulators(start=start, end=end, seed=DEMO_SEED) as running:
        yield running


@pytest.fixture
def deployment(
    sims: SimulatorSet, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A deployment whose channels are the running simulators, in an empty folder."""
    config = tmp_path / "recon.toml"
    config.write_text(sims.recon_config_toml(), encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("RECON_DATABASE_URL", database_url)
    monkeypatch.setenv("RECON_CONFIG", str(config))
    for name, value in sims.recon_env().items():
        monkeypatch.setenv(name, value)
    return work


def test_load_only_loads_and_reconciles_from_the_configured_channels_then_exits(
    deployment: Path, sims: SimulatorSet, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sum(channel.requests for channel in (sims.momo, sims.portal, sims.bank))
    assert main(["demo", "--load-only", "--days", str(DAYS), "--json"]) == 0
    loaded = json.loads(capsys.readouterr().out)
    assert loaded["loaded"] is True
    assert loaded["days"] == DAYS
    assert loaded["dossiers"] == len(sims.ward.dossiers)
    assert loaded["cases_opened"] > 0
    # it pulled from the simulators it was given, and started and wrote nothing of its own
    assert sum(channel.requests for channel in (sims.momo, sims.portal, sims.bank)) > before
    assert list(deployment.iterdir()) == []

    assert main(["demo", "--load-only", "--days", str(DAYS), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["loaded"] is False
    assert again["dossiers"] == loaded["dossiers"]


def test_load_only_without_a_channel_refuses_in_one_line(
    deployment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RECON_CONFIG")
    assert main(["demo", "--load-only"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "RECON_CONFIG names no channel" in line
