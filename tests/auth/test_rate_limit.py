"""Each API key's rate: `[api] requests_per_minute` per key and process, a token bucket; past
it, 429 with `Retry-After` (whole seconds) in the error shape, documented on every API route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from recon.app import create_app
from recon.auth.guards import KEY_GATE, KeyGate
from recon.auth.keycache import KeyCache
from recon.auth.ratelimit import RateLimiter
from recon.errors import SettingsError
from recon.settings import Settings, load_settings
from tests.helpers import make_key


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def with_api_table(environ: dict[str, str], table: str) -> Settings:
    """The test deployment's settings with an `[api]` table added to its file."""
    config = Path(environ["RECON_CONFIG"])
    config.write_text(config.read_text(encoding="utf-8") + f"[api]\n{table}\n", encoding="utf-8")
    return load_settings(environ)


# --- the bucket -----------------------------------------------------------------------------


def test_a_key_may_burst_a_minutes_worth_then_waits_for_the_refill() -> None:
    clock = FakeMonotonic()
    limiter = RateLimiter(60, monotonic=clock)  # one a second
    assert [limiter.take("k") for _ in range(60)] == [0] * 60
    assert limiter.take("k") == 1
    clock.now += 0.5
    assert limiter.take("k") == 1  # half a token back; a refusal takes nothing
    clock.now += 0.5
    assert limiter.take("k") == 0
    assert limiter.take("k") == 1


def test_retry_after_is_whole_seconds_until_a_token_is_back() -> None:
    clock = FakeMonotonic()
    limiter = RateLimiter(2, monotonic=clock)  # one every 30 s
    assert (limiter.take("k"), limiter.take("k")) == (0, 0)
    assert limiter.take("k") == 30
    clock.now += 10.2
    assert limiter.take("k") == 20  # 19.8 s, rounded up
    clock.now += 19.8
    assert limiter.take("k") == 0


def test_each_key_has_its_own_bucket_and_zero_means_no_limit() -> None:
    clock = FakeMonotonic()
    limiter = RateLimiter(1, monotonic=clock)
    assert (limiter.take("a"), limiter.take("b")) == (0, 0)
    assert (limiter.take("a"), limiter.take("b")) == (60, 60)
    unlimited = RateLimiter(0, monotonic=clock)
    assert {unlimited.take("a") for _ in range(10_000)} == {0}


def test_a_long_idle_bucket_holds_no_more_than_a_minutes_worth() -> None:
    clock = FakeMonotonic()
    limiter = RateLimiter(3, monotonic=clock)
    limiter.take("k")
    clock.now += 3600
    assert [limiter.take("k") for _ in range(4)] == [0, 0, 0, 20]


# --- over HTTP ------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
def limited_app(environ: dict[str, str], clock: FakeMonotonic) -> Litestar:
    settings = with_api_table(environ, "requests_per_minute = 2")
    app = create_app(settings)
    per_minute = settings.api.requests_per_minute
    app.state[KEY_GATE] = KeyGate(
        cache=KeyCache(monotonic=clock), limiter=RateLimiter(per_minute, monotonic=clock)
    )
    return app


@pytest.fixture
async def api(limited_app: Litestar) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=limited_app) as test_client:
        yield test_client


async def test_a_key_past_its_rate_gets_429_with_retry_after_in_the_error_shape(
    api: AsyncTestClient[Any], settings: Settings
) -> None:
    key = await make_key(settings, "cases:read", "runs:read")
    assert (await api.get("/api/v1/cases", headers=bearer(key))).status_code == 200
    assert (await api.get("/api/v1/runs", headers=bearer(key))).status_code == 200
    refused = await api.get("/api/v1/cases/1", headers=bearer(key))
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "30"
    body = refused.json()
    assert set(body) == {"status", "title", "detail", "errors"}
    assert (body["status"], body["title"]) == (429, "Too Many Requests")
    assert "2 requests a minute" in body["detail"]
    assert body["errors"] == [{"field": "Authorization", "reason": body["detail"]}]


async def test_the_key_is_served_again_once_retry_after_has_passed(
    api: AsyncTestClient[Any], settings: Settings, clock: FakeMonotonic
) -> None:
    key = await make_key(settings, "cases:read")
    for _ in range(2):
        assert (await api.get("/api/v1/cases", headers=bearer(key))).status_code == 200
    refused = await api.get("/api/v1/cases", headers=bearer(key))
    clock.now += int(refused.headers["Retry-After"]) - 1
    assert (await api.get("/api/v1/cases", headers=bearer(key))).status_code == 429
    clock.now += 1
    assert (await api.get("/api/v1/cases", headers=bearer(key))).status_code == 200


async def test_another_key_is_not_limited_by_the_first(
    api: AsyncTestClient[Any], settings: Settings
) -> None:
    busy = await make_key(settings, "cases:read", name="busy")
    quiet = await make_key(settings, "cases:read", name="quiet")
    for _ in range(2):
        assert (await api.get("/api/v1/cases", headers=bearer(busy))).status_code == 200
    assert (await api.get("/api/v1/cases", headers=bearer(busy))).status_code == 429
    assert (await api.get("/api/v1/cases", headers=bearer(quiet))).status_code == 200


async def test_bad_keys_are_401_whatever_the_rate(
    api: AsyncTestClient[Any], settings: Settings
) -> None:
    for _ in range(5):
        response = await api.get("/api/v1/cases", headers=bearer("rk_0123456789ab_nope"))
        assert response.status_code == 401


async def test_the_default_limit_lets_a_busy_service_through(
    client: AsyncTestClient[Any], settings: Settings
) -> None:
    key = await make_key(settings, "cases:read")
    statuses = {(await client.get("/api/v1/cases/1", headers=bearer(key))).status_code}
    for _ in range(200):
        statuses.add((await client.get("/api/v1/cases/1", headers=bearer(key))).status_code)
    assert statuses == {404}


async def test_every_api_route_documents_429_in_the_error_shape(
    client: AsyncTestClient[Any],
) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    operations = [
        (method, path, operation)
        for path, item in document["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in item.items()
    ]
    assert operations
    for method, path, operation in operations:
        response = operation["responses"].get("429")
        assert response, f"{method.upper()} {path} does not document 429"
        assert "Retry-After" in response["description"]
        schema = response["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith("/ErrorBody"), (method, path)


# --- the setting ----------------------------------------------------------------------------


def _config(tmp_path: Path, toml: str) -> dict[str, str]:
    path = tmp_path / "recon.toml"
    path.write_text(toml, encoding="utf-8")
    return {"RECON_CONFIG": str(path)}


def test_requests_per_minute_is_read_from_the_api_table(tmp_path: Path) -> None:
    assert load_settings({}).api.requests_per_minute == 60_000
    settings = load_settings(_config(tmp_path, "[api]\nrequests_per_minute = 120\n"))
    assert settings.api.requests_per_minute == 120
    settings = load_settings(_config(tmp_path, "[api]\nrequests_per_minute = 0\n"))
    assert settings.api.requests_per_minute == 0


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[api]\nrequest_per_minute = 10\n", "api.request_per_minute: unknown key"),
        ("[api]\nburst = 10\n", "api.burst: unknown key"),
        ("[api]\nrequests_per_minute = -1\n", "api.requests_per_minute: Expected `int` >= 0"),
        ("[api]\nrequests_per_minute = 1.5\n", "api.requests_per_minute: Expected `int`"),
        ('[api]\nrequests_per_minute = "60"\n', "api.requests_per_minute: Expected `int`"),
        ("api = 5\n", "api: Expected `object`"),
    ],
)
def test_a_bad_api_table_refuses_the_start_naming_the_key(
    tmp_path: Path, toml: str, message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(_config(tmp_path, toml))
    assert caught.value.detail.startswith(message), caught.value.detail
    assert "\n" not in caught.value.detail
