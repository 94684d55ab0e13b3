"""The fast paths of line reading agree with the careful ones they stand in for."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base import StatementFormatError
from adapters.lines import LineReader, mask_number
from adapters.momo import MomoAdapter, _NotPlain, _Txn
from recon.domain import LOCAL_TZ, MAX_AMOUNT, business_day_of

DAY = date(2024, 11, 25)
# reads lines only: its client never sends
ADAPTER = MomoAdapter(
    httpx.AsyncClient(),
    base_url="http://momo.test",
    partner_code="MOMOXYZ",
    access_key="a",
    secret_key="s",
)


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


@given(
    st.datetimes(
        min_value=datetime(1975, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    )
)
def test_business_day_of_a_utc_moment_is_its_date_in_ho_chi_minh(moment: datetime) -> None:
    assert business_day_of(moment) == moment.astimezone(LOCAL_TZ).date()


def test_business_day_of_other_zones_and_naive_moments() -> None:
    bangkok = datetime(2024, 11, 25, 23, 30, tzinfo=UTC) - timedelta(hours=7)
    assert business_day_of(bangkok.astimezone(LOCAL_TZ)) == date(2024, 11, 25)
    with pytest.raises(ValueError, match="aware"):
        business_day_of(datetime(2024, 11, 25, 12, 0))


ids = st.one_of(
    st.integers(min_value=-5, max_value=10**13), st.sampled_from(["", "  ", "MM1", "4123"])
)
amounts = st.one_of(
    st.integers(min_value=-2, max_value=MAX_AMOUNT + 2),
    st.sampled_from([0, 1, MAX_AMOUNT, MAX_AMOUNT + 1, 15000.0, "15000", True, None]),
)
texts = st.one_of(st.none(), st.text(max_size=12), st.integers(0, 9))
transactions = st.fixed_dictionaries(
    {
        "transId": st.one_of(ids, st.none(), st.just(1.5)),
        "transType": st.sampled_from(["payment", "refund", "transfer", 1]),
        "amount": amounts,
        "fee": amounts,
        "resultCode": st.one_of(st.sampled_from([0, 1000, 1006, 7002]), st.just("0")),
        "responseTime": st.one_of(
            st.integers(min_value=1_600_000_000_000, max_value=1_900_000_000_000),
            st.just(False),
        ),
        "orderId": st.one_of(st.sampled_from(["MM2411250001", ""]), st.none()),
    },
    optional={
        "refundOf": st.one_of(ids, st.none()),
        "orderInfo": texts,
        "payerPhone": st.one_of(texts, st.sampled_from(["0901234567", "090****567"])),
        "partnerCode": st.just("MOMOXYZ"),
    },
)


@settings(max_examples=400)
@given(transactions)
def test_the_typed_fast_path_reads_a_transaction_as_the_field_reader_does(
    item: dict[str, Any],
) -> None:
    try:
        careful = ADAPTER._line_of(LineReader(item, "momo", DAY, "page 1 item 1"))
    except StatementFormatError:
        careful = None
    try:
        fast = ADAPTER._typed_line(msgspec.convert(item, _Txn, strict=True), item)
    except (msgspec.ValidationError, _NotPlain):
        fast = None  # the page is read again the careful way, which words the error
    assert fast == careful


valid_transactions = st.fixed_dictionaries(
    {
        "transId": st.one_of(st.integers(1, 10**13), st.text(min_size=1).filter(str.strip)),
        "transType": st.just("payment"),
        "amount": st.integers(1, MAX_AMOUNT),
        "fee": st.integers(0, MAX_AMOUNT),
        "resultCode": st.sampled_from([0, 1000, 1006]),
        "responseTime": st.integers(1_600_000_000_000, 1_900_000_000_000),
        "orderId": st.sampled_from(["MM2411250001", ""]),
    },
    optional={
        "orderInfo": st.one_of(st.none(), st.text(max_size=12)),
        "payerPhone": st.one_of(st.none(), st.text(max_size=14)),
    },
)


@given(valid_transactions)
def test_a_well_formed_transaction_takes_the_fast_path_to_the_same_line(
    item: dict[str, Any],
) -> None:
    careful = ADAPTER._line_of(LineReader(item, "momo", DAY, "page 1 item 1"))
    fast = ADAPTER._typed_line(msgspec.convert(item, _Txn, strict=True), item)
    assert fast == careful
    assert "payerPhone" not in item or fast.raw["payerPhone"] == mask_number(item["payerPhone"])
