"""The shared adapter ground: retries, signing, masking, line fields, control totals."""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import UTC, date, datetime, timedelta

import httpx
import msgspec
import pytest
import respx
from hypothesis import given, settings
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
    Amount,
    ChannelId,
    Fee,
    FieldFault,
    SuccessTally,
    check_control_totals,
    distinct_lines,
    local_time,
    mask_number,
)
from recon.domain import LOCAL_TZ, MAX_AMOUNT, ControlTotals, StatementLine, as_utc, business_day_of
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


def careful_mask(value: str | None) -> str | None:
    """The definition: every digit but the last three becomes `*`."""
    if not value:
        return None
    digits = [i for i, ch in enumerate(value) if ch.isdigit()]
    hidden = set(digits[:-3])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(value))


@given(st.text(alphabet=st.sampled_from("0123456789 +-*().abcXYZ٣²"), max_size=24))
def test_mask_number_is_the_definition(value: str) -> None:
    assert mask_number(value) == careful_mask(value)


# --- line field types -----------------------------------------------------------------------


@pytest.mark.parametrize("value", BAD_AMOUNTS)
def test_bad_amounts_are_refused_by_the_amount_type(value: object) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(value, Amount, strict=True)


def test_amount_bounds_are_one_and_ten_to_the_fifteen() -> None:
    assert msgspec.convert(1, Amount, strict=True) == 1
    assert msgspec.convert(MAX_AMOUNT, Amount, strict=True) == MAX_AMOUNT
    assert msgspec.convert(0, Fee, strict=True) == 0
    assert msgspec.convert(MAX_AMOUNT, Fee, strict=True) == MAX_AMOUNT
    for value in (-1, MAX_AMOUNT + 1):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(value, Fee, strict=True)


def test_identifiers_are_integers_or_non_empty_strings() -> None:
    assert msgspec.convert(4123456789001, ChannelId, strict=True) == 4123456789001
    assert msgspec.convert("PT2411250001", ChannelId, strict=True) == "PT2411250001"
    for value in (True, "", "  ", "\u00a0", 1.0, None):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(value, ChannelId, strict=True)


def test_local_time_is_read_as_utc_plus_seven() -> None:
    moment = local_time("20241125235959", "%Y%m%d%H%M%S", field="t")
    assert moment == datetime(2024, 11, 25, 16, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    "value", ["2024112523595", "20241125 235959", "20241325000000", 20241125, None]
)
def test_local_time_refuses_what_is_not_exactly_the_layout(value: object) -> None:
    with pytest.raises(FieldFault) as caught:
        local_time(value, "%Y%m%d%H%M%S", field="t")
    assert caught.value.field == "t"


def careful_local_time(value: str, layout: str) -> datetime | None:
    """The definition: strptime, refusing what does not print back the same."""
    try:
        moment = datetime.strptime(value, layout).replace(tzinfo=LOCAL_TZ)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.strftime(layout) == value else None


digits = st.text(alphabet="0123456789", min_size=1, max_size=4)


@settings(max_examples=300)
@given(
    st.sampled_from(["%Y%m%d%H%M%S", "%Y-%m-%d %H:%M:%S"]),
    st.one_of(
        st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1)),
        st.tuples(digits, digits, digits, digits, digits, digits),
    ),
)
def test_local_times_read_as_strptime_reads_them(
    layout: str, source: datetime | tuple[str, ...]
) -> None:
    if isinstance(source, datetime):
        value = source.strftime(layout)
    else:
        value = "".join(source) if "-" not in layout else "{}-{}-{} {}:{}:{}".format(*source)
    try:
        read: datetime | None = local_time(value, layout, field="t")
    except FieldFault:
        read = None
    assert read == careful_local_time(value, layout)
    assert read is None or read.tzinfo is UTC


@given(
    st.datetimes(
        min_value=datetime(1975, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    )
)
def test_business_day_of_a_utc_moment_is_its_date_in_ho_chi_minh(moment: datetime) -> None:
    assert business_day_of(moment) == moment.astimezone(LOCAL_TZ).date()


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)))
def test_as_utc_takes_a_naive_moment_as_ho_chi_minh_local_time(moment: datetime) -> None:
    converted = as_utc(moment)
    assert converted == moment.replace(tzinfo=LOCAL_TZ).astimezone(UTC)
    assert converted.tzinfo is UTC


def test_business_day_of_other_zones_and_naive_moments() -> None:
    bangkok = datetime(2024, 11, 25, 23, 30, tzinfo=UTC) - timedelta(hours=7)
    assert business_day_of(bangkok.astimezone(LOCAL_TZ)) == date(2024, 11, 25)
    with pytest.raises(ValueError, match="aware"):
        business_day_of(datetime(2024, 11, 25, 12, 0))


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
