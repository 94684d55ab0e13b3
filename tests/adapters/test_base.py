"""The shared adapter ground: retries, signing, masking, line fields, control totals."""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import UTC, date, datetime

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from adapters.base import (
    ChannelAuthError,
    ChannelError,
    ChannelUnavailable,
    ControlTotalsMismatch,
    RetryableAnswer,
    RetryPolicy,
    StatementFormatError,
    hmac_sha256_base64,
    hmac_sha256_hex,
    request_with_retry,
    verify_hmac_sha256_base64,
    verify_hmac_sha256_hex,
)
from adapters.lines import (
    LineReader,
    SuccessTally,
    check_control_totals,
    distinct_lines,
    mask_number,
)
from recon.domain import MAX_AMOUNT, ControlTotals, StatementLine
from tests.adapters.conftest import (
    BAD_AMOUNTS,
    FIVE_TRANSIENT_FAILURES,
    FOUR_RETRY_DELAYS,
    FOUR_TRANSIENT_FAILURES,
    SleepRecorder,
    failing_then,
)

DAY = date(2024, 11, 25)
URL = "http://channel.test/statement"

# --- retry policy -------------------------------------------------------------------------


def test_backoff_ceiling_doubles_from_half_a_second_and_caps_at_eight() -> None:
    policy = RetryPolicy()
    assert [policy.backoff_ceiling(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 8, 8, 8]


def test_equal_jitter_stays_between_half_the_ceiling_and_the_ceiling() -> None:
    low = RetryPolicy(rand=lambda: 0.0)
    high = RetryPolicy(rand=lambda: 0.999999)
    for n in range(1, 8):
        ceiling = low.backoff_ceiling(n)
        assert low.delay_before_retry(n) == ceiling / 2
        assert ceiling / 2 <= high.delay_before_retry(n) <= ceiling


def test_full_jitter_stays_between_zero_and_the_ceiling() -> None:
    assert RetryPolicy(jitter="full", rand=lambda: 0.0).delay_before_retry(3) == 0.0
    assert 0 < RetryPolicy(jitter="full", rand=lambda: 0.999999).delay_before_retry(3) <= 2.0


@given(
    retry_number=st.integers(min_value=1, max_value=100),
    fraction=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    jitter=st.sampled_from(["full", "equal"]),
)
def test_jittered_delay_never_exceeds_the_ceiling_nor_eight_seconds(
    retry_number: int, fraction: float, jitter: str
) -> None:
    policy = RetryPolicy(jitter=jitter, rand=lambda: fraction)  # type: ignore[arg-type]
    ceiling = min(8.0, 0.5 * 2 ** (min(retry_number, 40) - 1))
    floor = 0.0 if jitter == "full" else ceiling / 2
    assert floor <= policy.delay_before_retry(retry_number) <= ceiling <= 8.0


def test_retry_after_replaces_the_backoff() -> None:
    assert RetryPolicy().delay_before_retry(1, retry_after=7.0) == 7.0


def test_retry_after_is_capped_at_sixty_seconds() -> None:
    assert RetryPolicy().delay_before_retry(1, retry_after=3600.0) == 60.0


def test_retry_after_reads_seconds_and_http_dates() -> None:
    policy = RetryPolicy(clock=lambda: datetime(2024, 11, 26, 1, 30, tzinfo=UTC).timestamp())
    assert policy.parse_retry_after("12") == 12.0
    assert policy.parse_retry_after("Tue, 26 Nov 2024 01:30:45 GMT") == 45.0
    assert policy.parse_retry_after("Tue, 26 Nov 2024 01:29:00 GMT") == 0.0
    assert policy.parse_retry_after("soon") is None
    assert policy.parse_retry_after("-5") is None
    assert policy.parse_retry_after(None) is None


def test_retry_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


# --- request_with_retry -------------------------------------------------------------------


async def _get_json(
    client: httpx.AsyncClient, sleeps: SleepRecorder, read: object = None
) -> object:
    policy = RetryPolicy(sleep=sleeps, rand=lambda: 0.5)
    return await request_with_retry(
        client,
        lambda: client.build_request("GET", URL),
        read or (lambda response: response.json()),  # type: ignore[arg-type]
        channel="demo",
        business_day=DAY,
        policy=policy,
    )


async def test_four_consecutive_transient_failures_are_survived(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    route = respx_mock.get(URL).mock(
        side_effect=failing_then(FOUR_TRANSIENT_FAILURES, lambda _: httpx.Response(200, json=1))
    )
    assert await _get_json(http_client, sleeps) == 1
    assert route.call_count == 5
    assert sleeps.delays == FOUR_RETRY_DELAYS


async def test_fifth_consecutive_failure_raises_channel_unavailable(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    route = respx_mock.get(URL).mock(
        side_effect=failing_then(FIVE_TRANSIENT_FAILURES, lambda _: httpx.Response(200, json=1))
    )
    with pytest.raises(ChannelUnavailable) as caught:
        await _get_json(http_client, sleeps)
    assert route.call_count == 5
    assert len(sleeps.delays) == 4  # no pointless wait after the last attempt
    error = caught.value
    assert (error.channel, error.business_day, error.attempts) == ("demo", DAY, 5)
    assert str(error).startswith("demo 2024-11-25: gave up after 5 attempts")
    assert isinstance(error.__cause__, httpx.ReadTimeout)
    assert error.retryable


async def test_429_with_retry_after_waits_what_the_server_asks(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    respx_mock.get(URL).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "120"}),
            httpx.Response(503, headers={"Retry-After": "9"}),
            httpx.Response(200, json=1),
        ]
    )
    assert await _get_json(http_client, sleeps) == 1
    assert sleeps.delays == [60.0, 9.0]


@pytest.mark.parametrize("status", [400, 404, 409, 422, 302])
async def test_other_statuses_are_not_retried(
    respx_mock: respx.MockRouter,
    http_client: httpx.AsyncClient,
    sleeps: SleepRecorder,
    status: int,
) -> None:
    route = respx_mock.get(URL).mock(return_value=httpx.Response(status))
    with pytest.raises(StatementFormatError, match=f"HTTP {status}"):
        await _get_json(http_client, sleeps)
    assert route.call_count == 1
    assert sleeps.delays == []


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_failures_are_not_retried(
    respx_mock: respx.MockRouter,
    http_client: httpx.AsyncClient,
    sleeps: SleepRecorder,
    status: int,
) -> None:
    route = respx_mock.get(URL).mock(return_value=httpx.Response(status))
    with pytest.raises(ChannelAuthError):
        await _get_json(http_client, sleeps)
    assert route.call_count == 1


async def test_an_answer_the_reader_calls_transient_is_retried(
    respx_mock: respx.MockRouter, http_client: httpx.AsyncClient, sleeps: SleepRecorder
) -> None:
    respx_mock.get(URL).mock(
        side_effect=[httpx.Response(200, json="busy"), httpx.Response(200, json="ok")]
    )

    def read(response: httpx.Response) -> object:
        if response.json() == "busy":
            raise RetryableAnswer("system busy")
        return response.json()

    assert await _get_json(http_client, sleeps, read) == "ok"
    assert sleeps.delays == [0.375]


async def test_retry_warnings_name_method_and_path_but_no_query(
    respx_mock: respx.MockRouter,
    http_client: httpx.AsyncClient,
    sleeps: SleepRecorder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    respx_mock.get(URL).mock(side_effect=[httpx.Response(500), httpx.Response(200, json=1)])
    policy = RetryPolicy(sleep=sleeps, rand=lambda: 0.5)
    with caplog.at_level(logging.WARNING, logger="adapters.base"):
        await request_with_retry(
            http_client,
            lambda: http_client.build_request("GET", URL, params={"token": "s3cr3t"}),
            lambda response: response.json(),
            channel="demo",
            business_day=DAY,
            policy=policy,
        )
    assert "GET /statement attempt 1 failed (HTTP 500)" in caplog.text
    assert "s3cr3t" not in caplog.text


# --- errors -------------------------------------------------------------------------------


def test_error_tree_splits_retryable_from_not() -> None:
    for kind in (ChannelUnavailable, ChannelAuthError, StatementFormatError, ControlTotalsMismatch):
        assert issubclass(kind, ChannelError)
    assert ChannelUnavailable.retryable
    assert not any(k.retryable for k in (ChannelAuthError, StatementFormatError))
    assert not ControlTotalsMismatch.retryable


def test_control_totals_mismatch_carries_both_sides() -> None:
    error = ControlTotalsMismatch(
        expected=ControlTotals(count=5, amount=345000),
        received=ControlTotals(count=4, amount=295000),
        channel="momo",
        business_day=DAY,
    )
    assert (error.expected_count, error.expected_amount) == (5, 345000)
    assert (error.received_count, error.received_amount) == (4, 295000)
    assert str(error) == (
        "momo 2024-11-25: control totals say 5 lines / 345000 VND, received 4 lines / 295000 VND"
    )


# --- signing ------------------------------------------------------------------------------


def test_hex_signature_matches_an_independent_hmac() -> None:
    expected = hmac.new(b"k", b"accessKey=a&date=2024-11-25", hashlib.sha256).hexdigest()
    assert hmac_sha256_hex("k", "accessKey=a&date=2024-11-25") == expected


@given(secret=st.text(min_size=1), message=st.text(), other=st.text())
def test_signature_verifies_its_message_and_detects_tampering(
    secret: str, message: str, other: str
) -> None:
    for sign, verify in (
        (hmac_sha256_hex, verify_hmac_sha256_hex),
        (hmac_sha256_base64, verify_hmac_sha256_base64),
    ):
        signature = sign(secret, message)
        assert verify(secret, message, signature)
        assert verify(secret, other, signature) == (other == message)
        assert not verify(secret + "x", message, signature)
        assert not verify(secret, message, signature[:-1] + ("0" if signature[-1] != "0" else "1"))
        assert not verify(secret, message, None)
        assert not verify(secret, message, "chữ ký giả")


def test_base64_signature_is_standard_with_padding() -> None:
    signature = hmac_sha256_base64("k", "m")
    assert len(signature) == 44
    assert signature.endswith("=")


# --- masking ------------------------------------------------------------------------------


def test_mask_keeps_the_last_three_digits_of_a_phone() -> None:
    assert mask_number("0901234567") == "*******567"
    assert mask_number("+84 901 234 567") == "+** *** *** 567"
    assert mask_number("") is None
    assert mask_number(None) is None


@given(st.text())
def test_masking_keeps_only_the_last_three_digits(value: str) -> None:
    masked = mask_number(value)
    if not value:
        assert masked is None
        return
    assert masked is not None
    assert len(masked) == len(value)
    digits = [ch for ch in value if ch.isdigit()]
    assert [ch for ch in masked if ch.isdigit()] == digits[-3:]
    for original, shown in zip(value, masked, strict=True):
        assert shown == original or (original.isdigit() and shown == "*")
    assert mask_number(masked) == masked  # masking twice changes nothing


# --- line fields --------------------------------------------------------------------------


def _reader(**item: object) -> LineReader:
    return LineReader(item, "demo", DAY, "page 1 item 2").named("transId 42")


@pytest.mark.parametrize("value", BAD_AMOUNTS)
def test_bad_amounts_are_refused_naming_line_and_field(value: object) -> None:
    with pytest.raises(StatementFormatError) as caught:
        _reader(amount=value).amount("amount")
    assert caught.value.line == "page 1 item 2 (transId 42)"
    assert caught.value.field == "amount"
    assert "page 1 item 2 (transId 42), field 'amount'" in str(caught.value)


def test_amount_bounds_are_one_and_ten_to_the_fifteen() -> None:
    assert _reader(amount=1).amount("amount") == 1
    assert _reader(amount=MAX_AMOUNT).amount("amount") == MAX_AMOUNT
    assert _reader(fee=0).amount("fee", minimum=0) == 0
    with pytest.raises(StatementFormatError):
        _reader(fee=-1).amount("fee", minimum=0)


def test_signed_amount_takes_negatives_but_never_zero() -> None:
    assert _reader(amount=-1500000).amount("amount", signed=True) == -1500000
    for value in (0, -(10**15) - 1, -1.5):
        with pytest.raises(StatementFormatError):
            _reader(amount=value).amount("amount", signed=True)


def test_local_time_is_read_as_utc_plus_seven() -> None:
    moment = _reader(t="20241125235959").local_time("t", "%Y%m%d%H%M%S")
    assert moment == datetime(2024, 11, 25, 16, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize("value", ["2024112523595", "20241125 235959", "20241325000000", 20241125])
def test_local_time_refuses_what_is_not_exactly_the_layout(value: object) -> None:
    with pytest.raises(StatementFormatError, match="field 't'"):
        _reader(t=value).local_time("t", "%Y%m%d%H%M%S")


def test_identifiers_are_integers_or_non_empty_strings() -> None:
    assert _reader(id=4123456789001).identifier("id") == "4123456789001"
    assert _reader(id="PT2411250001").identifier("id") == "PT2411250001"
    for value in (True, "", "  ", 1.0, None):
        with pytest.raises(StatementFormatError):
            _reader(id=value).identifier("id")


# --- control totals -----------------------------------------------------------------------


def _line(txn_id: str, amount: int, status: str = "success") -> StatementLine:
    paid_at = datetime(2024, 11, 25, 3, 0, tzinfo=UTC)
    return StatementLine(
        channel="demo",
        channel_txn_id=txn_id,
        amount=amount,
        fee=0,
        kind="payment",
        status=status,  # type: ignore[arg-type]
        paid_at=paid_at,
        business_day=DAY,
    )


def test_the_same_line_twice_is_one_line_and_the_later_delivery_wins() -> None:
    delivered = [_line("a", 10, "pending"), _line("b", 20), _line("a", 10)]
    lines = distinct_lines(delivered)
    assert [(line.channel_txn_id, line.status) for line in lines] == [
        ("a", "success"),
        ("b", "success"),
    ]
    tally = SuccessTally()
    tally.add(delivered[:2])  # page 1: "a" still pending
    tally.add(delivered[2:])  # page 2: "a" again, now successful
    assert tally.totals() == ControlTotals(count=2, amount=30)


def test_control_totals_check_compares_count_and_amount() -> None:
    agreed = check_control_totals(
        reported=[ControlTotals(count=2, amount=30)],
        received=ControlTotals(count=2, amount=30),
        channel="demo",
        business_day=DAY,
    )
    assert agreed == ControlTotals(count=2, amount=30)
    with pytest.raises(ControlTotalsMismatch):
        check_control_totals(
            reported=[ControlTotals(count=2, amount=31)],
            received=ControlTotals(count=2, amount=30),
            channel="demo",
            business_day=DAY,
        )


def test_every_page_s_reported_totals_must_match_not_only_the_last() -> None:
    with pytest.raises(ControlTotalsMismatch) as caught:
        check_control_totals(
            reported=[ControlTotals(count=3, amount=40), ControlTotals(count=2, amount=30)],
            received=ControlTotals(count=2, amount=30),
            channel="demo",
            business_day=DAY,
        )
    assert (caught.value.expected_count, caught.value.expected_amount) == (3, 40)


def test_control_totals_without_an_amount_compare_counts_only() -> None:
    agreed = check_control_totals(
        reported=[ControlTotals(count=2)],
        received=ControlTotals(count=2),
        channel="bank",
        business_day=DAY,
    )
    assert agreed == ControlTotals(count=2, amount=None)
    with pytest.raises(ControlTotalsMismatch):
        check_control_totals(
            reported=[ControlTotals(count=3)],
            received=ControlTotals(count=2),
            channel="bank",
            business_day=DAY,
        )
