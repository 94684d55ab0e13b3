"""`recon users create`: accounts with roles, passwords read from stdin and hashed with argon2id."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from recon.auth.service import password_matches
from recon.db.models import User
from recon.db.session import open_database
from recon.settings import Settings


def stored_user(settings: Settings, username: str) -> User:
    async def get() -> User:
        async with open_database(settings.database_url) as sessionmaker, sessionmaker() as s:
            return (await s.execute(select(User).where(User.username == username))).scalar_one()

    return asyncio.run(get())


def test_a_user_is_created_with_a_hashed_password(
    run_cli: Callable[..., Any], settings: Settings
) -> None:
    result = run_cli(
        "users",
        "create",
        "--username",
        "ketoan",
        "--role",
        "accountant",
        "--json",
        stdin="mật khẩu rất dài\n",
    )
    assert result.code == 0, result
    assert json.loads(result.out)["role"] == "accountant"
    user = stored_user(settings, "ketoan")
    assert user.password_hash.startswith("$argon2id$")
    assert "mật khẩu" not in user.password_hash
    assert password_matches(user.password_hash, "mật khẩu rất dài")
    assert not password_matches(user.password_hash, "mật khẩu sai")


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (("--username", "a", "--role", "boss"), "long enough pw", 2, "unknown role 'boss'"),
        (("--username", "a", "--role", "viewer"), "short", 2, "at least 10 characters"),
        (("--username", "a b", "--role", "viewer"), "long enough pw", 2, "a username is"),
    ],
)
def test_bad_user_requests_are_refused(
    run_cli: Callable[..., Any], args: tuple[str, ...], stdin: str, code: int, message: str
) -> None:
    result = run_cli("users", "create", *args, stdin=stdin)
    assert result.code == code
    assert message in result.err


def test_a_username_is_taken_once(run_cli: Callable[..., Any]) -> None:
    args = ("users", "create", "--username", "duyet", "--role", "approver")
    assert run_cli(*args, stdin="long enough pw").code == 0
    again = run_cli(*args, stdin="long enough pw")
    assert again.code == 4
    assert "already exists" in again.err
