"""Signing a test client in through the login form, as a browser does."""

from __future__ import annotations

import re
from typing import Any

import httpx
from litestar.testing import AsyncTestClient

TOKEN = re.compile(r'name="_csrf_token" value="([^"]*)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the (first) form of a page."""
    found = TOKEN.search(html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


async def sign_in(
    client: AsyncTestClient[Any], username: str, password: str, *, next_path: str = ""
) -> httpx.Response:
    """GET the login form, POST it back with its token; the client keeps the cookies."""
    form = await client.get("/dang-nhap")
    assert form.status_code == 200, form.text
    data = {
        "username": username,
        "password": password,
        "next": next_path,
        "_csrf_token": csrf_of(form.text),
    }
    return await client.post("/dang-nhap", data=data, follow_redirects=False)


async def page_token(client: AsyncTestClient[Any], path: str = "/so-doi-soat") -> str:
    """The CSRF token a signed-in page carries (its logout form has it)."""
    response = await client.get(path)
    assert response.status_code == 200, response.text
    return csrf_of(response.text)
