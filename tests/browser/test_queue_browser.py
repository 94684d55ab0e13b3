"""The accountant's queue in a real browser: log in, filter, open an unmatched payment, link it
to the suggested dossier, see it leave the queue, the dossier PAID in the payments API and the
action in the audit page; a write-off above the threshold approved by an approver in a second
browser context; a viewer sees no action. Screenshots of the queue, a case page and the audit
page go under tests/artifacts/.

The app runs under uvicorn in a thread (tests/browser/conftest.py) on a SQLite copy of the ward
of tests/web/queue_ward.py (the write-off threshold 5.000 ₫).
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from recon.app import create_app
from recon.settings import Settings
from tests.browser.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    NEEDS_CHROMIUM,
    PASSWORD,
    log_in,
    screenshot,
    served,
)
from tests.helpers import make_key
from tests.web.queue_ward import OWNER, accounts, case_ids, environ, reconciled, ward

__all__ = ["accounts", "environ", "reconciled", "ward"]

pytestmark = NEEDS_CHROMIUM


@pytest.fixture
def server(settings: Settings, reconciled: None, accounts: dict[str, str]) -> Iterator[str]:
    with served(create_app(settings)) as url:
        yield url


@contextmanager
def browser() -> Iterator[Any]:
    """One Chromium; each `new_context()` of it is a browser profile of its own."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


def signed_in(chromium: Any, base_url: str, username: str) -> Any:
    context = chromium.new_context(locale="vi-VN", viewport={"width": 1360, "height": 900})
    page = context.new_page()
    log_in(page, base_url, username, PASSWORD)
    assert "/dang-nhap" not in page.url, f"{username} could not log in"
    return page


def payment_status(base_url: str, key: str, code: str) -> str:
    request = urllib.request.Request(
        f"{base_url}/api/v1/payments/{code}", headers={"Authorization": f"Bearer {key}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        status: str = json.loads(response.read())["status"]
        return status


def test_an_accountant_links_an_unmatched_payment_to_the_suggested_dossier(
    server: str, settings: Settings
) -> None:
    ids = asyncio.run(case_ids(settings))
    unmatched = ids["UNMATCHED_PAYMENT"]
    key = asyncio.run(make_key(settings, "payments:read"))
    assert payment_status(server, key, OWNER) == "UNPAID"
    with browser() as chromium:
        page = signed_in(chromium, server, "ketoan")
        assert page.url.endswith("/hang-doi")  # the landing page
        assert page.locator("#queue tbody tr[data-case]").count() == 4
        screenshot(page, "hang-doi")

        page.locator("#filters select[name=loai]").select_option("UNMATCHED_PAYMENT")
        with page.expect_navigation():
            page.get_by_role("button", name="Lọc").click()
        assert "loai=UNMATCHED_PAYMENT" in page.url
        rows = page.locator("#queue tbody tr[data-case]")
        assert rows.count() == 1
        with page.expect_navigation():
            rows.first.get_by_role("link", name=str(unmatched), exact=True).click()

        assert page.url.endswith(f"/hang-doi/{unmatched}")
        first = page.locator("#candidates tbody tr").first
        assert first.get_attribute("data-dossier") == OWNER
        page.locator("details.raw summary").first.click()
        assert page.locator("pre.raw").first.is_visible()
        assert "V3" in page.locator("pre.raw").first.inner_text()
        first.get_by_role("button", name="Chọn").click()
        assert page.locator("#dossier-code").input_value() == OWNER
        assert page.locator("#resolution-select").input_value() == "linked"
        page.locator("#resolve-form textarea[name=note]").fill("Người nộp gửi biên lai qua Zalo")
        with page.expect_navigation():
            page.locator("#resolve-form").get_by_role("button", name="Xử lý").click()
        assert f"với hồ sơ {OWNER}" in page.locator("#notice").inner_text()
        assert page.locator("#status").inner_text() == "Đã xử lý"
        screenshot(page, "vu-viec")

        page.get_by_role("link", name="Hàng đợi", exact=True).first.click()
        page.wait_for_url("**/hang-doi")
        assert page.locator(f'#queue tr[data-case="{unmatched}"]').count() == 0
        assert page.locator("#queue tbody tr[data-case]").count() == 3

        assert payment_status(server, key, OWNER) == "PAID"

        page.get_by_role("link", name="Nhật ký").click()
        page.wait_for_url("**/nhat-ky")
        newest = page.locator("#audit tbody tr").first
        text = newest.inner_text()
        assert "ketoan" in text
        assert "Gắn với hồ sơ" in text
        assert OWNER in text
        assert "Người nộp gửi biên lai qua Zalo" in text
        screenshot(page, "nhat-ky")


def test_a_big_write_off_waits_for_an_approver_in_another_browser(
    server: str, settings: Settings
) -> None:
    underpaid = asyncio.run(case_ids(settings))["UNDERPAID"]  # 10.000 ₫ at stake > 5.000 ₫
    with browser() as chromium:
        accountant = signed_in(chromium, server, "ketoan")
        accountant.goto(f"{server}/hang-doi/{underpaid}")
        accountant.locator("#resolution-select").select_option("written_off")
        accountant.locator("#resolve-form textarea[name=note]").fill("Không liên lạc được")
        with accountant.expect_navigation():
            accountant.locator("#resolve-form").get_by_role("button", name="Xử lý").click()
        assert "chờ người duyệt" in accountant.locator("#notice").inner_text()
        assert accountant.locator("#pending").is_visible()
        assert accountant.locator("#approve-form").count() == 0

        approver = signed_in(chromium, server, "duyet")
        approver.get_by_role("link", name=re.compile("Chờ duyệt")).click()
        approver.wait_for_url("**tab=cho-duyet**")
        with approver.expect_navigation():
            approver.locator(f'#queue tr[data-case="{underpaid}"] a').first.click()
        approver.locator("#approve-form textarea[name=note]").fill("Đồng ý xóa sổ")
        with approver.expect_navigation():
            approver.locator("#approve-form").get_by_role("button", name="Duyệt").click()
        assert "Đã duyệt xóa sổ" in approver.locator("#notice").inner_text()

        accountant.reload()
        assert accountant.locator("#status").inner_text() == "Đã xử lý"
        assert accountant.locator("#resolution").inner_text() == "Xóa sổ"
        history = accountant.locator("#history").inner_text()
        assert "duyet" in history
        assert "Duyệt xóa sổ" in history


def test_a_viewer_sees_no_action_and_a_forged_post_is_refused(
    server: str, settings: Settings
) -> None:
    unmatched = asyncio.run(case_ids(settings))["UNMATCHED_PAYMENT"]
    with browser() as chromium:
        viewer = signed_in(chromium, server, "xem")
        assert viewer.locator("#queue tbody tr[data-case]").count() == 4
        assert viewer.locator("input[name=ids]").count() == 0
        assert viewer.locator("#bulk").count() == 0
        viewer.goto(f"{server}/hang-doi/{unmatched}")
        assert viewer.locator("#candidates").is_visible()
        assert viewer.locator("form.action").count() == 0
        assert viewer.get_by_role("button", name="Chọn").count() == 0
        token = viewer.locator('input[name="_csrf_token"]').first.get_attribute("value")
        forged = viewer.request.post(
            f"{server}/hang-doi/{unmatched}/xu-ly",
            form={"resolution": "accepted", "note": "giả mạo", "_csrf_token": token or ""},
            max_redirects=0,
        )
        assert forged.status == 403
