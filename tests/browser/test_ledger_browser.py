"""The ledger page in a real browser: the app under uvicorn, Debian's Chromium via Playwright.

The app runs in a background thread on a free localhost port, against a SQLite database
holding the test ward (tests/runs/test_reconcile.py), reconciled through the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from recon.app import create_app
from recon.settings import Settings
from recon.web.controllers import local_today, preset_range
from tests.browser.conftest import NEEDS_CHROMIUM, PASSWORD, served, signed_in_page
from tests.runs.test_reconcile import D1, reconcile, ward

__all__ = ["ward"]

pytestmark = NEEDS_CHROMIUM


@pytest.fixture
def prepared(run_cli: Callable[..., Any], ward: None) -> None:
    reconcile(run_cli, D1, "--channel", "vnpay")
    args = ("users", "create", "--username", "ketoan", "--role", "accountant")
    assert run_cli(*args, stdin=PASSWORD).code == 0


@pytest.fixture
def server(settings: Settings, prepared: None) -> Iterator[str]:
    """The real app under uvicorn in a thread; yields its base URL."""
    with served(create_app(settings)) as url:
        yield url


def test_the_ledger_page_renders_and_its_presets_work(
    server: str, settings: Settings, tmp_path: Path
) -> None:
    with signed_in_page(server) as page:
        response = page.goto(f"{server}/so-doi-soat?tu=2025-11-20&den=2025-11-26")
        assert response is not None
        assert response.status == 200
        assert page.title() == f"Sổ đối soát — {settings.ward_name}"
        range_text = page.locator("#range")
        assert "Từ ngày 20/11/2025 đến ngày 26/11/2025" in range_text.inner_text()

        # the tables
        totals = page.locator("#channel-totals")
        assert totals.get_by_role("row", name="vnpay").count() == 1
        assert "41.000 ₫" in totals.inner_text()
        days = page.locator("#days")
        assert "24/11/2025" in days.inner_text()
        assert "Khoản thu không rõ hồ sơ: 1" in days.inner_text()

        # the chart: a group per day, a bar for the day with payments, with its tooltip
        chart = page.locator("svg.chart")
        assert chart.is_visible()
        assert chart.locator("g.day").count() == 7
        bar = chart.locator("rect.bar")
        assert bar.count() == 1
        box = bar.bounding_box()
        assert box is not None
        assert box["height"] > 100
        assert box["width"] > 5
        title = bar.locator("title").text_content()
        assert title == "24/11/2025 · vnpay: 41.000 ₫ (5 giao dịch)"
        page.screenshot(path=str(tmp_path / "so-doi-soat.png"), full_page=True)

        # a preset moves the range
        page.get_by_role("link", name="Tháng trước").click()
        page.wait_for_url("**preset=prev-month**")
        start, end = preset_range("prev-month", local_today(settings.timezone))
        expected = f"Từ ngày {start:%d/%m/%Y} đến ngày {end:%d/%m/%Y}"
        assert expected in page.locator("#range").inner_text()
        active = page.locator(".presets .active")
        assert active.inner_text() == "Tháng trước"
        page.screenshot(path=str(tmp_path / "thang-truoc.png"), full_page=True)

        # the form takes dd/mm/yyyy and a channel
        page.get_by_label("Từ ngày", exact=True).fill("24/11/2025")
        page.get_by_label("Đến ngày", exact=True).fill("24/11/2025")
        page.locator("select[name=kenh]").select_option("vnpay")
        page.get_by_role("button", name="Xem").click()
        page.wait_for_url("**kenh=vnpay**")
        shown = page.locator("#range").inner_text()
        assert "Từ ngày 24/11/2025 đến ngày 24/11/2025" in shown
        assert "Kênh vnpay" in shown
        assert page.locator("svg.chart rect.bar").count() == 1
