"""Web login in a real browser: the login page, the landing after it, throttled wrong
passwords, logout, and a form sent without its CSRF token (403)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from recon.app import create_app
from recon.settings import Settings
from tests.browser.conftest import (
    NEEDS_CHROMIUM,
    PASSWORD,
    browser_page,
    log_in,
    screenshot,
    served,
)

pytestmark = NEEDS_CHROMIUM


@pytest.fixture
def prepared(run_cli: Callable[..., Any]) -> None:
    for username, role in (("ketoan", "accountant"), ("xem", "viewer")):
        args = ("users", "create", "--username", username, "--role", role)
        assert run_cli(*args, stdin=PASSWORD).code == 0


@pytest.fixture
def server(settings: Settings, prepared: None) -> Iterator[str]:
    with served(create_app(settings)) as url:
        yield url


def test_log_in_from_a_page_land_on_it_and_log_out(server: str) -> None:
    with browser_page() as page:
        page.goto(f"{server}/lan-chay")
        assert page.url == f"{server}/dang-nhap?next=%2Flan-chay"
        assert page.get_by_role("heading", name="Đăng nhập").is_visible()
        screenshot(page, "login")

        page.get_by_label("Tên đăng nhập").fill("ketoan")
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url(f"{server}/lan-chay")
        header = page.locator("header.site")
        assert "ketoan" in header.inner_text()
        assert "Kế toán" in header.inner_text()
        cookies = {c["name"]: c for c in page.context.cookies()}
        assert cookies["recon_session"]["httpOnly"]
        assert cookies["recon_session"]["sameSite"] == "Lax"

        page.get_by_role("button", name="Đăng xuất").click()
        page.wait_for_url(f"{server}/dang-nhap")
        page.goto(f"{server}/so-doi-soat")
        assert page.url.startswith(f"{server}/dang-nhap?next=")


def test_wrong_passwords_are_throttled_with_a_message(server: str) -> None:
    with browser_page() as page:
        for _ in range(5):
            response = log_in(page, server, "ketoan", "mật khẩu sai rồi")
            assert response.status == 401
            assert (
                page.get_by_role("alert").inner_text() == "Tên đăng nhập hoặc mật khẩu không đúng."
            )
        response = log_in(page, server, "ketoan", PASSWORD)  # even the right one, for now
        assert response.status == 429
        alert = page.get_by_role("alert").inner_text()
        assert "Đăng nhập sai quá nhiều lần" in alert
        assert "15 phút" in alert
        screenshot(page, "login-throttled")
        assert "/dang-nhap" in page.url
        # another account from this address is not locked (20 failures would lock it)
        assert log_in(page, server, "xem", PASSWORD).status == 200


def test_a_post_without_the_csrf_token_gets_403(server: str) -> None:
    with browser_page() as page:
        log_in(page, server, "xem", PASSWORD)
        page.goto(f"{server}/so-doi-soat")
        forged = page.evaluate(
            """async () => (await fetch('/dang-xuat', {method: 'POST',
                 headers: {'Content-Type': 'application/x-www-form-urlencoded'},
                 body: 'x=1'})).status"""
        )
        assert forged == 403
        with_token = page.evaluate(
            """async () => {
                 const token = document.querySelector('input[name=_csrf_token]').value;
                 const body = new URLSearchParams({_csrf_token: token});
                 return (await fetch('/dang-xuat', {method: 'POST', body, redirect: 'manual'})).type;
               }"""
        )
        assert with_token == "opaqueredirect"  # the 303 of a logout that happened
        page.goto(f"{server}/so-doi-soat")
        assert "/dang-nhap" in page.url
