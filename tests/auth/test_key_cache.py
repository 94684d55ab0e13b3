"""The guard's cache of verified keys: a hot key opens no session, a revoked key is refused by
every process within the cache's 3 seconds, and an unknown key is never remembered."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from recon.app import create_app
from recon.auth.guards import KEY_GATE, KeyGate
from recon.auth.keycache import TTL_SECONDS, KeyCache
from recon.auth.ratelimit import RateLimiter
from recon.auth.service import Principal
from recon.db.models import ApiKey
from recon.db.reads import QuickReads
from recon.db.session import open_database
from recon.settings import Settings
from tests.helpers import make_key

RECON = [sys.executable, "-m", "recon.cli"]
PRINCIPAL = Principal(name="t", scopes=frozenset({"cases:read"}))


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingReads:
    """The app's `QuickReads`, counting the reads run through it (the guard's key lookups)."""

    def __init__(self, reads: QuickReads) -> None:
        self.reads, self.opened = reads, 0

    async def run(self, read: Any, *args: Any) -> Any:
        self.opened += 1
        return await self.reads.run(read, *args)


@pytest.fixture
def clock() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def app(settings: Settings, clock: FakeMonotonic) -> Litestar:
    app = create_app(settings)
    app.state[KEY_GATE] = KeyGate(cache=KeyCache(monotonic=clock), limiter=RateLimiter(0))
    return app


@pytest.fixture
async def api(app: Litestar) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


def gate(app: Litestar) -> KeyGate:
    found: KeyGate = app.state[KEY_GATE]
    return found


async def key_id(settings: Settings, name: str) -> int:
    async with open_database(settings.database_url) as sessionmaker, sessionmaker() as session:
        found: int = (
            await session.execute(select(ApiKey.id).where(ApiKey.name == name))
        ).scalar_one()
    return found


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_the_cache_forgets_a_key_within_five_seconds() -> None:
    assert 0 < TTL_SECONDS < 5


def test_an_entry_lives_ttl_seconds_from_the_start_of_its_lookup(clock: FakeMonotonic) -> None:
    cache = KeyCache(ttl=3.0, monotonic=clock)
    cache.remember("d", PRINCIPAL, looked_up_at=clock.now - 1.0)  # the lookup took a second
    assert cache.get("d") == PRINCIPAL
    clock.now += 1.999
    assert cache.get("d") == PRINCIPAL
    clock.now += 0.001
    assert cache.get("d") is None
    assert len(cache) == 0


def test_a_full_cache_drops_what_expired_first(clock: FakeMonotonic) -> None:
    cache = KeyCache(ttl=3.0, monotonic=clock, max_entries=2)
    cache.remember("old", PRINCIPAL, looked_up_at=clock.now)
    clock.now += 5
    cache.remember("a", PRINCIPAL, looked_up_at=clock.now)
    cache.remember("b", PRINCIPAL, looked_up_at=clock.now)
    assert (cache.get("a"), cache.get("b"), cache.get("old")) == (PRINCIPAL, PRINCIPAL, None)


async def test_a_key_verified_moments_ago_is_not_looked_up_again(
    app: Litestar, api: AsyncTestClient[Any], settings: Settings, clock: FakeMonotonic
) -> None:
    key = await make_key(settings, "payments:read")  # 403 on /cases: the guard alone answers
    sessions = CountingReads(app.state.quick_reads)
    app.state.quick_reads = sessions
    assert (await api.get("/api/v1/cases", headers=bearer(key))).status_code == 403
    assert sessions.opened == 1
    for _ in range(3):
        clock.now += 0.9
        assert (await api.get("/api/v1/cases", headers=bearer(key))).status_code == 403
    assert sessions.opened == 1
    clock.now += 0.4  # 3.1 s after the lookup: asked again
    assert (await api.get("/api/v1/cases", headers=bearer(key))).status_code == 403
    assert sessions.opened == 2


async def test_a_key_revoked_from_the_cli_is_refused_within_the_cache_ttl(
    app: Litestar,
    api: AsyncTestClient[Any],
    settings: Settings,
    environ: dict[str, str],
    clock: FakeMonotonic,
) -> None:
    key = await make_key(settings, "cases:read", name="to-revoke")
    assert (await api.get("/api/v1/cases", headers=bearer(key))).status_code == 200

    revoke = await asyncio.create_subprocess_exec(
        *RECON,
        "apikeys",
        "revoke",
        str(await key_id(settings, "to-revoke")),
        "--json",
        env={**os.environ, **environ},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await revoke.communicate()
    assert revoke.returncode == 0, err
    assert json.loads(out)["revoked_at"] is not None

    clock.now += TTL_SECONDS - 0.5  # still remembered: this process has not asked again
    assert (await api.get("/api/v1/cases", headers=bearer(key))).status_code == 200
    clock.now += 0.5
    refused = await api.get("/api/v1/cases", headers=bearer(key))
    assert refused.status_code == 401
    assert refused.json()["errors"] == [
        {"field": "Authorization", "reason": "the API key is unknown or revoked"}
    ]
    assert len(gate(app).cache) == 0


async def test_an_unknown_or_tampered_key_is_never_remembered(
    app: Litestar, api: AsyncTestClient[Any], settings: Settings
) -> None:
    key = await make_key(settings, "cases:read")
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    sessions = CountingReads(app.state.quick_reads)
    app.state.quick_reads = sessions
    for bad in ("rk_0123456789ab_nope", tampered, "rk_nope", "not-a-key"):
        for _ in range(2):
            assert (await api.get("/api/v1/cases", headers=bearer(bad))).status_code == 401
    assert len(gate(app).cache) == 0
    assert sessions.opened == 8  # each refusal asked the database again
    # the good key beside them is verified, and only it is remembered
    assert (await api.get("/api/v1/cases", headers=bearer(key))).status_code == 200
    assert len(gate(app).cache) == 1
    assert (await api.get("/api/v1/cases", headers=bearer(tampered))).status_code == 401


async def test_the_app_makes_its_own_gate_from_its_settings(
    client: AsyncTestClient[Any], settings: Settings
) -> None:
    key = await make_key(settings, "cases:read")
    assert (await client.get("/api/v1/cases", headers=bearer(key))).status_code == 200
    made = client.app.state[KEY_GATE]
    assert isinstance(made, KeyGate)
    assert made.cache.ttl == TTL_SECONDS
    assert made.limiter.per_minute == settings.api.requests_per_minute == 60_000
