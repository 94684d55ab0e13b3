"""Web login (recon.web.login, .sessions, .throttle, .csrf, .auth): the login form, sessions in
the database, their cookie, timeouts, logout, CSRF on every form, throttling and the role
checks of changing requests. On SQLite and PostgreSQL, with the app's clock in the test's hand."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar import post
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from recon.app import create_app
from recon.db.models import LoginAttempt, User, WebSession
from recon.db.session import open_database
from recon.settings import Settings
from recon.web.auth import require_role, web_router
from recon.web.login import safe_next
from recon.web.sessions import SESSION_COOKIE
from tests.helpers import make_key
from tests.web.signin import csrf_of, page_token, sign_in

PASSWORD = "mật khẩu rất dài"
WRONG = "mật khẩu sai rồi"
START = datetime(2025, 11, 27, 2, 0, tzinfo=UTC)
PAGE = "/so-doi-soat"
ACCOUNTS = {
    "ketoan": "accountant",
    "duyet": "approver",
    "xem": "viewer",
    "quantri": "admin",
    "vohieu": "accountant",  # disabled by the tests that need it
}


class Hands:
    """The app's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def move(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@post("/thu/doi", name="probe_change")
async def probe_change() -> str:
    """A changing page, as the case pages will have: open to the default roles."""
    return "đã đổi"


@post("/thu/duyet", name="probe_approve", guards=[require_role("approver")])
async def probe_approve() -> str:
    return "đã duyệt"


@pytest.fixture
def accounts(run_cli: Callable[..., Any]) -> None:
    for username, role in ACCOUNTS.items():
        args = ("users", "create", "--username", username, "--role", role)
        assert run_cli(*args, stdin=PASSWORD + "\n").code == 0


@pytest.fixture
def hands() -> Hands:
    return Hands()


@pytest.fixture
async def client(
    settings: Settings, hands: Hands, accounts: None
) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(settings, clock=hands)
    app.register(web_router([probe_change, probe_approve]))
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


async def rows(settings: Settings, model: Any) -> list[Any]:
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as session:
        return list((await session.execute(select(model))).scalars())


async def disable(settings: Settings, username: str) -> None:
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as session:
        await session.execute(
            update(User).where(User.username == username).values(disabled_at=START)
        )
        await session.commit()


def set_cookie(response: Any, name: str) -> str:
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert len(found) == 1, response.headers.get_list("set-cookie")
    return found[0]


async def is_signed_in(client: AsyncTestClient[Any]) -> bool:
    response = await client.get(PAGE, follow_redirects=False)
    assert response.status_code in (200, 303), response.text
    return response.status_code == 200


# --- logging in ----------------------------------------------------------------------------


async def test_the_login_page_is_in_vietnamese_with_a_csrf_token(
    client: AsyncTestClient[Any],
) -> None:
    response = await client.get("/dang-nhap")
    assert response.status_code == 200
    assert "Đăng nhập" in response.text
    assert "Mật khẩu" in response.text
    assert len(csrf_of(response.text)) >= 40
    assert "HttpOnly" in set_cookie(response, "recon_csrf")


async def test_a_right_password_signs_in_and_the_header_shows_who_and_the_role(
    client: AsyncTestClient[Any],
) -> None:
    response = await sign_in(client, "ketoan", PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    page = await client.get(PAGE)
    assert page.status_code == 200
    assert '<strong class="username">ketoan</strong>' in page.text
    assert "Kế toán" in page.text
    assert 'action="/dang-xuat"' in page.text
    assert "Đăng xuất" in page.text


@pytest.mark.parametrize(
    ("username", "password"), [("ketoan", WRONG), ("khongai", PASSWORD), ("vohieu", PASSWORD)]
)
async def test_a_wrong_password_an_unknown_or_a_disabled_user_get_the_same_refusal(
    client: AsyncTestClient[Any], settings: Settings, username: str, password: str
) -> None:
    await disable(settings, "vohieu")
    response = await sign_in(client, username, password)
    assert response.status_code == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in response.text
    assert SESSION_COOKIE not in response.cookies
    assert not await is_signed_in(client)
    assert await rows(settings, WebSession) == []


async def test_an_empty_form_is_refused_with_a_message(client: AsyncTestClient[Any]) -> None:
    response = await sign_in(client, "ketoan", "")
    assert response.status_code == 400
    assert "Vui lòng nhập tên đăng nhập và mật khẩu." in response.text


# --- the cookie and the stored session -----------------------------------------------------


async def test_the_session_cookie_is_httponly_lax_and_not_secure_over_http(
    client: AsyncTestClient[Any],
) -> None:
    cookie = set_cookie(await sign_in(client, "ketoan", PASSWORD), SESSION_COOKIE)
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert "Secure" not in cookie
    assert "Path=/" in cookie


async def test_the_cookies_are_secure_over_tls(
    settings: Settings, hands: Hands, accounts: None
) -> None:
    app = create_app(settings, clock=hands)
    async with AsyncTestClient(app=app, base_url="https://testserver.local") as client:
        form = await client.get("/dang-nhap")
        response = await sign_in(client, "ketoan", PASSWORD)
    for cookie in (set_cookie(form, "recon_csrf"), set_cookie(response, SESSION_COOKIE)):
        assert "Secure" in cookie
        assert "HttpOnly" in cookie


async def test_the_cookies_are_secure_behind_a_proxy_that_says_https(
    settings: Settings, hands: Hands, accounts: None
) -> None:
    async with AsyncTestClient(app=create_app(settings, clock=hands)) as client:
        form = await client.get("/dang-nhap", headers={"X-Forwarded-Proto": "https"})
        plain = await client.get("/dang-nhap", headers={"X-Forwarded-Proto": "http"})
    assert "Secure" in set_cookie(form, "recon_csrf")
    assert "Secure" not in set_cookie(plain, "recon_csrf")


async def test_the_database_keeps_only_a_digest_of_the_sessions_token(
    client: AsyncTestClient[Any], settings: Settings
) -> None:
    await sign_in(client, "ketoan", PASSWORD)
    token = client.cookies[SESSION_COOKIE]
    [stored] = await rows(settings, WebSession)
    assert stored.id == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {stored.id, stored.address, stored.user_agent}
    assert stored.created_at == stored.last_seen_at == START
    assert stored.expires_at == START + timedelta(hours=12)
    assert stored.revoked_at is None


async def test_a_new_login_revokes_the_session_the_browser_came_with(
    client: AsyncTestClient[Any], settings: Settings
) -> None:
    await sign_in(client, "ketoan", PASSWORD)
    first = client.cookies[SESSION_COOKIE]
    await sign_in(client, "ketoan", PASSWORD)
    assert client.cookies[SESSION_COOKIE] != first
    client.cookies.set(SESSION_COOKIE, first)
    assert not await is_signed_in(client)
    revoked = [s for s in await rows(settings, WebSession) if s.revoked_at is not None]
    assert [s.id for s in revoked] == [hashlib.sha256(first.encode()).hexdigest()]


# --- the session ends ----------------------------------------------------------------------


async def test_logout_revokes_the_session_and_clears_the_cookie(
    client: AsyncTestClient[Any], settings: Settings
) -> None:
    await sign_in(client, "xem", PASSWORD)  # a viewer may log out
    token = client.cookies[SESSION_COOKIE]
    response = await client.post(
        "/dang-xuat", data={"_csrf_token": await page_token(client)}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/dang-nhap"
    assert "Max-Age=0" in set_cookie(response, SESSION_COOKIE)
    [stored] = await rows(settings, WebSession)
    assert stored.revoked_at is not None
    client.cookies.set(SESSION_COOKIE, token)  # a copy of the cookie is worth nothing now
    assert not await is_signed_in(client)


async def test_a_session_ends_after_30_idle_minutes(
    client: AsyncTestClient[Any], hands: Hands
) -> None:
    await sign_in(client, "ketoan", PASSWORD)
    hands.move(minutes=29)
    assert await is_signed_in(client)  # and the visit keeps it alive
    hands.move(minutes=29)
    assert await is_signed_in(client)
    hands.move(minutes=30)
    assert not await is_signed_in(client)


async def test_a_busy_session_still_ends_12_hours_after_login(
    client: AsyncTestClient[Any], hands: Hands
) -> None:
    await sign_in(client, "ketoan", PASSWORD)
    for _ in range(35):  # every 20 minutes for 11 h 40 min
        hands.move(minutes=20)
        assert await is_signed_in(client)
    hands.move(minutes=20)
    assert not await is_signed_in(client)


async def test_a_disabled_user_loses_every_session(
    client: AsyncTestClient[Any], settings: Settings
) -> None:
    await sign_in(client, "ketoan", PASSWORD)
    assert await is_signed_in(client)
    await disable(settings, "ketoan")
    assert not await is_signed_in(client)
    assert all(s.revoked_at is not None for s in await rows(settings, WebSession))


# --- where to go ---------------------------------------------------------------------------


async def test_a_stranger_is_sent_to_login_and_back_to_the_page_asked_for(
    client: AsyncTestClient[Any],
) -> None:
    response = await client.get("/lan-chay?kenh=momo", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/dang-nhap?next=%2Flan-chay%3Fkenh%3Dmomo"
    form = await client.get(response.headers["location"])
    assert 'name="next" value="/lan-chay?kenh=momo"' in form.text
    signed = await sign_in(client, "ketoan", PASSWORD, next_path="/lan-chay?kenh=momo")
    assert signed.headers["location"] == "/lan-chay?kenh=momo"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/ok\r\nLocation: https://evil.example",
        "",
    ],
)
async def test_next_never_leaves_the_site(client: AsyncTestClient[Any], target: str) -> None:
    response = await sign_in(client, "ketoan", PASSWORD, next_path=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_only_local_paths_are_accepted_as_next() -> None:
    assert safe_next("/so-doi-soat?tu=2025-11-01") == "/so-doi-soat?tu=2025-11-01"
    for bad in ("//x", "/\\x", "http://x/", "x", None, "/a\\b", "/a\tb"):
        assert safe_next(bad) == "/", bad


# --- CSRF ----------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "sai", "0" * 64])
async def test_a_form_without_its_csrf_token_is_refused_with_403(
    client: AsyncTestClient[Any], token: str | None
) -> None:
    extra = {} if token is None else {"_csrf_token": token}
    form = await client.get("/dang-nhap")
    assert form.status_code == 200
    login = await client.post(
        "/dang-nhap", data={"username": "ketoan", "password": PASSWORD, **extra}
    )
    assert login.status_code == 403
    assert "mã chống giả mạo" in login.text
    assert SESSION_COOKIE not in client.cookies
    assert (await sign_in(client, "ketoan", PASSWORD)).status_code == 303
    for path in ("/dang-xuat", "/thu/doi"):
        response = await client.post(path, data=extra, follow_redirects=False)
        assert response.status_code == 403, path
    assert await is_signed_in(client)  # the refused logout did nothing


async def test_the_token_of_another_session_does_not_pass(
    client: AsyncTestClient[Any], settings: Settings, hands: Hands
) -> None:
    async with AsyncTestClient(app=create_app(settings, clock=hands)) as other:
        await sign_in(other, "duyet", PASSWORD)
        foreign = await page_token(other)
    await sign_in(client, "ketoan", PASSWORD)
    refused = await client.post("/thu/doi", data={"_csrf_token": foreign})
    assert refused.status_code == 403
    accepted = await client.post("/thu/doi", data={"_csrf_token": await page_token(client)})
    assert accepted.status_code == 201
    header = await client.post("/thu/doi", headers={"X-CSRFToken": await page_token(client)})
    assert header.status_code == 201


async def test_the_api_takes_no_csrf_token_it_uses_bearer_keys(
    client: AsyncTestClient[Any], settings: Settings
) -> None:
    key = await make_key(settings, "payments:read")
    response = await client.post(
        "/api/v1/payments:query",
        json={"dossier_codes": ["HS-1"]},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.text
    assert "csrftoken" not in response.headers.get("set-cookie", "")


# --- roles ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "change", "approve"),
    [("ketoan", 201, 403), ("duyet", 201, 201), ("xem", 403, 403), ("quantri", 403, 403)],
)
async def test_only_accountants_and_approvers_change_things(
    client: AsyncTestClient[Any], username: str, change: int, approve: int
) -> None:
    await sign_in(client, username, PASSWORD)
    token = {"_csrf_token": await page_token(client)}
    response = await client.post("/thu/doi", data=token)
    assert response.status_code == change
    if change == 403:
        assert "không được phép" in response.text
    assert (await client.post("/thu/duyet", data=token)).status_code == approve
    assert (await client.get(PAGE)).status_code == 200  # but everyone reads


async def test_a_changing_request_without_a_session_goes_to_login(
    client: AsyncTestClient[Any],
) -> None:
    await client.get("/dang-nhap")
    token = csrf_of((await client.get("/dang-nhap")).text)
    response = await client.post("/thu/doi", data={"_csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/dang-nhap"


# --- throttling ----------------------------------------------------------------------------


async def test_five_wrong_passwords_lock_the_username_for_15_minutes(
    client: AsyncTestClient[Any], hands: Hands, settings: Settings
) -> None:
    for _ in range(5):
        assert (await sign_in(client, "ketoan", WRONG)).status_code == 401
        hands.move(minutes=1)
    locked = await sign_in(client, "ketoan", PASSWORD)  # even the right password
    assert locked.status_code == 429
    assert "Đăng nhập sai quá nhiều lần" in locked.text
    assert "thử lại sau 10 phút" in locked.text  # the first failure leaves the window at 15
    assert locked.headers["retry-after"] == str(10 * 60)
    assert SESSION_COOKIE not in client.cookies
    assert (await sign_in(client, "duyet", PASSWORD)).status_code == 303  # others are not
    hands.move(minutes=9)
    assert (await sign_in(client, "ketoan", PASSWORD)).status_code == 429
    hands.move(minutes=1)  # the first failure is 15 minutes old: four in the window
    assert (await sign_in(client, "ketoan", PASSWORD)).status_code == 303
    attempts = await rows(settings, LoginAttempt)
    assert len(attempts) == 7  # the refused ones are not counted


async def test_a_success_clears_the_usernames_count(
    client: AsyncTestClient[Any], hands: Hands
) -> None:
    for _ in range(4):
        assert (await sign_in(client, "ketoan", WRONG)).status_code == 401
    assert (await sign_in(client, "ketoan", PASSWORD)).status_code == 303
    for _ in range(4):
        assert (await sign_in(client, "ketoan", WRONG)).status_code == 401
    assert (await sign_in(client, "ketoan", PASSWORD)).status_code == 303


async def test_twenty_failures_from_one_address_lock_the_address(
    client: AsyncTestClient[Any], hands: Hands
) -> None:
    for n in range(20):
        assert (await sign_in(client, f"ai{n}", WRONG)).status_code == 401
    locked = await sign_in(client, "ketoan", PASSWORD)
    assert locked.status_code == 429
    assert "thử lại sau 15 phút" in locked.text
    hands.move(minutes=15)
    assert (await sign_in(client, "ketoan", PASSWORD)).status_code == 303
