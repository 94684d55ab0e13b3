"""`recon demo`: simulators started, a ward loaded and reconciled into an empty database only."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from recon.demo import demo_range, demo_settings, load_demo, start_simulators
from recon.settings import load_settings

pytestmark = pytest.mark.e2e


def test_the_demo_covers_the_last_30_days_ending_yesterday() -> None:
    start, end = demo_range(date(2025, 11, 28))
    assert (start, end) == (date(2025, 10, 29), date(2025, 11, 27))
    assert (end - start).days + 1 == 30


async def test_the_demo_loads_and_reconciles_an_empty_database_only(
    database_url: str, tmp_path: Path
) -> None:
    end = date(2025, 11, 24)
    start = end - timedelta(days=3)
    sims = start_simulators(start, end)
    try:
        settings = demo_settings(
            load_settings({"RECON_DATABASE_URL": database_url}), sims, tmp_path
        )
        assert settings.channel_names() == ["bank", "momo", "portal"]
        first = await load_demo(settings, start, end)
        assert first["loaded"] is True
        assert first["dossiers"] > 50
        assert first["days"] == 4
        assert first["cases_opened"] > 0
        assert first["users"] == ["ketoan", "duyet"]
        again = await load_demo(settings, start, end)
        assert again["loaded"] is False
        assert again["dossiers"] == first["dossiers"]
    finally:
        sims.stop()
