"""The runs page in a real browser: signed in, from the ledger page's link to the window's rows.

The app runs under uvicorn in a background thread (tests/browser/conftest.py) with its clock
fixed, against a SQLite database where 24/11/2025 was reconciled through the CLI without pulls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from recon.app import create_app
from recon.settings import Settings
from tests.browser.conftest import NEEDS_CHROMIUM, PASSWORD, served, signed_in_page
from tests.runs.test_reconcile import D1, reconcile, ward

__all__ = ["ward"]

# 10:00 on 27/11/2025 in Hà Nội: the window is 20/11/2025–26/11/2025
NOW = datetime(2025, 11, 27, 3, 0, tzinfo=UTC)

pytestmark = NEEDS_CHROMIUM


@pytest.fixture
def prepared(run_cli: Callable[..., Any], ward: None) -> None:
    reconcile(run_cli, D1)  # every channel: vnpay reconciled, the pulled ones skipped
    args = ("users", "create", "--username", "ketoan", "--role", "accountant")
    assert run_cli(*args, stdin=PASSWORD).code == 0


@pytest.fixture
def server(settings: Settings, prepared: None) -> Iterator[str]:
    """The app with its clock at NOW under uvicorn in a thread; yields its base URL."""
    with served(create_app(settings, clock=lambda: NOW)) as url:
        yield url


def test_the_runs_page_is_reached_from_the_ledger_and_shows_the_window(
    server: str, settings: Settings, tmp_path: Path
) -> None:
    with signed_in_page(server) as page:
        response = page.goto(f"{server}/so-doi-soat")
        assert response is not None
        assert response.status == 200

        page.get_by_role("link", name="Lần chạy").click()
        page.wait_for_url("**/lan-chay")
        assert page.title() == f"Lần chạy đối soát — {settings.ward_name}"
        assert page.locator("nav a[aria-current=page]").inner_text() == "Lần chạy"
        assert (
            "từ ngày 20/11/2025 đến ngày 26/11/2025" in page.locator("#window-range").inner_text()
        )

        # seven days, newest first, one row per channel
        window = page.locator("#window")
        days = window.locator("tbody th[scope=row]").all_inner_texts()
        assert days[0] == "26/11/2025"
        assert days[-1] == "20/11/2025"
        assert len(days) == 7
        assert window.locator("tbody tr").count() == 7 * len(settings.channels)

        reconciled = window.locator('tr[data-day="2025-11-24"][data-channel="vnpay"]')
        assert "Thành công" in reconciled.inner_text()
        skipped = window.locator('tr[data-day="2025-11-24"][data-channel="momo"]')
        assert "Bỏ qua" in skipped.inner_text()
        first = window.locator('tr[data-day="2025-11-24"]').first
        assert "Thủ công" in first.inner_text()
        assert first.locator("td.num").inner_text() == "1"
        not_yet = window.locator('tr[data-day="2025-11-26"]').first
        assert "Chưa chạy" in not_yet.inner_text()

        assert "Quá hạn" in page.locator("#overdue").inner_text()
        assert "6 ngày" in page.locator("#overdue").inner_text()
        assert page.locator("#given-up-none").is_visible()
        page.screenshot(path=str(tmp_path / "lan-chay.png"), full_page=True)
