"""What every channel adapter does alike (DESIGN 2, 8), run once per channel.

Each channel is a `Driver` (tests/adapters/conftest.py) serving its recorded pages through
respx; what is specific to one channel (signatures, envelopes, paging tokens, settlements)
stays in test_momo.py, test_portal.py and test_bank.py.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import httpx
import pytest
import respx

from adapters.base import ChannelAuthError, ChannelUnavailable, RetryPolicy, StatementFormatError
from tests.adapters.conftest import (
    DRIVERS,
    FIVE_TRANSIENT_FAILURES,
    FOUR_RETRY_DELAYS,
    FOUR_TRANSIENT_FAILURES,
    Driver,
    SleepRecorder,
    day_pages,
    failing_then,
)

DAY = date(2024, 11, 25)


@pytest.fixture(params=DRIVERS, ids=str)
def channel(request: pytest.FixtureRequest, respx_mock: respx.MockRouter) -> Driver:
    driver: Driver = request.param
    return driver


def _route(respx_mock: respx.MockRouter, channel: Driver) -> respx.Route:
    return respx_mock.route(method=channel.method, url=channel.base_url + channel.path)


async def test_four_transient_failures_are_survived(
    channel: Driver,
    respx_mock: respx.MockRouter,
    http_client: httpx.AsyncClient,
    retry_policy: RetryPolicy,
    sleeps: SleepRecorder,
) -> None:
    serve = channel.serve(day_pages(channel.name))
    route = _route(respx_mock, channel).mock(
        side_effect=failing_then(FOUR_TRANSIENT_FAILURES, serve)
    )
    statement = await channel.make(http_client, retry_policy).fetch_day(DAY)
    assert len(statement.lines) == channel.lines_on_day
    assert route.call_count == channel.pages_on_day + 4
    assert sleeps.delays == FOUR_RETRY_DELAYS


async def test_fifth_consecutive_failure_raises_channel_unavailable_naming_channel_and_day(
    channel: Driver,
    respx_mock: respx.MockRouter,
    http_client: httpx.AsyncClient,
    retry_policy: RetryPolicy,
) -> None:
    serve = channel.serve(day_pages(channel.name))
    route = _route(respx_mock, channel).mock(
        side_effect=failing_then(FIVE_TRANSIENT_FAILURES, serve)
    )
    with pytest.raises(ChannelUnavailable) as caught:
        await channel.make(http_client, retry_policy).fetch_day(DAY)
    assert route.call_count == 5
    assert (caught.value.channel, caught.value.business_day) == (channel.name, DAY)
    assert str(caught.value).startswith(f"{channel.name} 2024-11-25: gave up after 5 attempts")


@pytest.mark.parametrize("seconds", ["2", "30"])
async def test_429_with_retry_after_is_honoured(
    channel: Driver,
    respx_mock: respx.MockRouter,
    http_client: httpx.AsyncClient,
    retry_policy: RetryPolicy,
    sleeps: SleepRecorder,
    seconds: str,
) -> None:
    serve = channel.serve(day_pages(channel.name))
    answers = iter([httpx.Response(429, headers={"Retry-After": seconds})])
    _route(respx_mock, channel).mock(
        side_effect=lambda request: next(answers, None) or serve(request)
    )
    await channel.make(http_client, retry_policy).fetch_day(DAY)
    assert sleeps.delays == [float(seconds)]


@pytest.mark.parametrize("status", [401, 403])
async def test_401_and_403_are_auth_errors_not_retried(
    channel: Driver,
    respx_mock: respx.MockRouter,
    http_client: httpx.AsyncClient,
    retry_policy: RetryPolicy,
    status: int,
) -> None:
    route = _route(respx_mock, channel).mock(return_value=httpx.Response(status))
    with pytest.raises(ChannelAuthError):
        await channel.make(http_client, retry_policy).fetch_day(DAY)
    assert route.call_count == 1


@pytest.mark.parametrize(
    "body", [b'{"resultCode": 0, "error": 0, "data": {"page": 1,', b"<html>502 Bad Gateway</html>"]
)
async def test_malformed_json_is_a_format_error_not_retried(
    channel: Driver,
    respx_mock: respx.MockRouter,
    http_client: httpx.AsyncClient,
    retry_policy: RetryPolicy,
    body: bytes,
) -> None:
    route = _route(respx_mock, channel).mock(return_value=httpx.Response(200, content=body))
    with pytest.raises(StatementFormatError, match="not a JSON object"):
        await channel.make(http_client, retry_policy).fetch_day(DAY)
    assert route.call_count == 1


async def test_the_same_line_on_two_pages_is_counted_once(
    channel: Driver,
    respx_mock: respx.MockRouter,
    http_client: httpx.AsyncClient,
    retry_policy: RetryPolicy,
) -> None:
    pages = day_pages(channel.name)
    channel.items(pages[1]).insert(0, channel.items(pages[0])[0])  # delivered again on page 2
    _route(respx_mock, channel).mock(side_effect=channel.serve(pages))
    statement = await channel.make(http_client, retry_policy).fetch_day(DAY)
    ids = [line.channel_txn_id for line in statement.lines]
    assert len(ids) == len(set(ids)) == channel.lines_on_day


async def test_payment_at_235959_local_is_that_business_day_and_000000_the_next(
    channel: Driver,
    respx_mock: respx.MockRouter,
    http_client: httpx.AsyncClient,
    retry_policy: RetryPolicy,
    host_tz: str,
) -> None:
    servers = {
        day: channel.serve(day_pages(channel.name, day)) for day in ("2024-11-25", "2024-11-26")
    }
    _route(respx_mock, channel).mock(
        side_effect=lambda request: servers[channel.day_of(request)](request)
    )
    adapter = channel.make(http_client, retry_policy)
    late = (await adapter.fetch_day(DAY)).lines[-1]
    early = (await adapter.fetch_day(date(2024, 11, 26))).lines[0]
    assert late.paid_at == datetime(2024, 11, 25, 16, 59, 59, tzinfo=UTC)
    assert late.business_day == date(2024, 11, 25)
    assert early.paid_at == datetime(2024, 11, 25, 17, 0, 0, tzinfo=UTC)
    assert early.business_day == date(2024, 11, 26)


BAD_MONEY = [
    pytest.param(driver, field, value, id=f"{driver}-{field}-{value!r}")
    for driver in DRIVERS
    for field, values in driver.bad_values.items()
    for value in values
]


@pytest.mark.parametrize(("driver", "field", "value"), BAD_MONEY)
async def test_bad_amounts_and_fees_are_refused_naming_the_line_and_field(
    respx_mock: respx.MockRouter,
    http_client: httpx.AsyncClient,
    retry_policy: RetryPolicy,
    driver: Driver,
    field: str,
    value: object,
) -> None:
    pages = day_pages(driver.name)
    page_index, item_index = driver.bad_line
    driver.items(pages[page_index])[item_index][field] = value
    _route(respx_mock, driver).mock(side_effect=driver.serve(pages))
    with pytest.raises(StatementFormatError) as caught:
        await driver.make(http_client, retry_policy).fetch_day(DAY)
    assert caught.value.line == driver.bad_line_name
    assert caught.value.field == field
    assert f"{driver.bad_line_name}, field {field!r}: " in str(caught.value)


async def test_logs_carry_no_secret_and_no_signature(
    channel: Driver,
    respx_mock: respx.MockRouter,
    http_client: httpx.AsyncClient,
    retry_policy: RetryPolicy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    serve = channel.serve(day_pages(channel.name))
    route = _route(respx_mock, channel).mock(
        side_effect=failing_then([503, httpx.ConnectError], serve)
    )
    with caplog.at_level(logging.DEBUG):
        await channel.make(http_client, retry_policy).fetch_day(DAY)
    assert "retrying" in caplog.text
    for secret in channel.secrets:
        assert secret not in caplog.text
    for call in route.calls:  # what each request carried to prove who sent it
        request = call.request
        for header in ("X-Signature", "Authorization"):
            if header in request.headers:
                assert request.headers[header] not in caplog.text
        if request.content:
            assert request.content.decode().split('"signature":"')[-1][:64] not in caplog.text


def test_repr_shows_no_secret(channel: Driver, http_client: httpx.AsyncClient) -> None:
    adapter = channel.make(http_client, RetryPolicy())
    for secret in channel.secrets:
        assert secret not in repr(adapter)
