"""What the browser tests share: Debian's Chromium driven by Playwright, the app served by
uvicorn in a thread on a free localhost port, a SQLite database (the browser checks pages;
the databases are covered in tests/web), and an accountant to sign in as, through the login
page. Screenshots go under tests/artifacts/ (ignored by git).

Each module marks itself with `NEEDS_CHROMIUM` (skipped, with the reason, where Chromium is
absent) and defines its own `prepared` data and app.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from litestar import Litestar

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "mật khẩu rất dài"
NEEDS_CHROMIUM = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"{CHROMIUM} is absent: install Debian's chromium (apt-get install chromium)",
    ),
]


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only: the browser checks the page, the databases are covered in tests/web."""
    path = tmp_path / "recon.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@contextmanager
def served(app: Litestar) -> Iterator[str]:
    """`app` under uvicorn in a thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, ws="none", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start in 20 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


ARTIFACTS = Path(__file__).parents[1] / "artifacts"


def screenshot(page: Any, name: str) -> None:
    """Save the page as tests/artifacts/<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@contextmanager
def browser_page() -> Iterator[Any]:
    """A Chromium page at a laptop's size, in Vietnamese, signed in as nobody."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = browser.new_context(locale="vi-VN", viewport={"width": 1360, "height": 900})
            yield context.new_page()
        finally:
            browser.close()


def log_in(page: Any, base_url: str, username: str, password: str) -> Any:
    """Fill in and send the login form; returns the response of the page it lands on."""
    page.goto(f"{base_url}/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    with page.expect_navigation() as landed:
        page.get_by_role("button", name="Đăng nhập").click()
    return landed.value


@contextmanager
def signed_in_page(
    base_url: str, username: str = "ketoan", password: str = PASSWORD
) -> Iterator[Any]:
    """A Chromium page signed in through the login page."""
    with browser_page() as page:
        log_in(page, base_url, username, password)
        assert "/dang-nhap" not in page.url, "the login failed"
        yield page
