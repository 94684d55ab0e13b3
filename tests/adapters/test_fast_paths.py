"""The fast paths of line reading agree with the careful ones they stand in for."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.bank import BankAdapter, _Record
from adapters.base import StatementFormatError
from adapters.lines import LineReader, NotPlain, mask_number
from adapters.momo import MomoAdapter, _Txn
from adapters.portal import PortalAdapter, _Item
from recon.domain import LOCAL_TZ, MAX_AMOUNT, as_utc, business_day_of

DAY = date(2024, 11, 25)
# these read lines only: their client never sends
CLIENT = httpx.AsyncClient()
ADAPTER = MomoAdapter(
    CLIENT, base_url="http://momo.test", partner_code="MOMOXYZ", access_key="a", secret_key="s"
)
PORTAL = PortalAdapter(CLIENT, base_url="http://portal.test", client_id="c", client_secret="s")
BANK = BankAdapter(
    CLIENT, base_url="http://bank.test", api_key="k", settlement_accounts=["0451000368686"]
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
    except (msgspec.ValidationError, NotPlain):
        fast = None  # the page is read again the careful way, which words the error
    # never accepts what the reader refuses, never reads differently; may decline (then the
    # page is read the careful way)
    assert fast is None or fast == careful


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
def test_fixed_width_local_times_read_as_strptime_reads_them(
    layout: str, source: datetime | tuple[str, ...]
) -> None:
    if isinstance(source, datetime):
        value = source.strftime(layout)
    else:
        value = "".join(source) if "-" not in layout else "{}-{}-{} {}:{}:{}".format(*source)
    reader = LineReader({"t": value}, "portal", DAY, "page 1 item 1")
    try:
        read: datetime | None = reader.local_time("t", layout)
    except StatementFormatError:
        read = None
    assert read == careful_local_time(value, layout)
    assert read is None or read.tzinfo is UTC


local_times = st.one_of(
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)).map(
        lambda moment: moment.strftime("%Y%m%d%H%M%S")
    ),
    st.sampled_from(["2024112523595", "20241325000000", "2024-11-25 10:00:00", ""]),
    st.integers(0, 9),
    st.none(),
)
portal_items = st.fixed_dictionaries(
    {
        "maGiaoDich": st.one_of(ids, st.none()),
        "loaiGiaoDich": st.sampled_from(["THANH_TOAN", "HOAN_TIEN", "CHUYEN_KHOAN", 3]),
        "trangThai": st.sampled_from(["THANH_CONG", "THAT_BAI", "DANG_XU_LY", "DA_HUY", "X"]),
        "thoiGianThanhToan": local_times,
        "soTien": amounts,
        "phiGiaoDich": amounts,
    },
    optional={
        "maThamChieu": texts,
        "maHoSo": texts,
        "noiDung": texts,
        "kenhThanhToan": st.just("VNPT Pay"),
    },
)


@settings(max_examples=400)
@given(portal_items)
def test_the_portal_fast_path_reads_an_item_as_the_field_reader_does(
    item: dict[str, Any],
) -> None:
    try:
        careful = PORTAL._line_of(LineReader(item, "portal", DAY, "page 1 item 1"))
    except StatementFormatError:
        careful = None
    try:
        fast = PORTAL._typed_line(msgspec.convert(item, _Item, strict=True), item)
    except (msgspec.ValidationError, NotPlain):
        fast = None
    assert fast is None or fast == careful


bank_items = st.fixed_dictionaries(
    {
        "id": st.one_of(ids, st.none()),
        "amount": st.one_of(amounts, st.integers(-MAX_AMOUNT - 2, -1)),
    },
    optional={
        "when": st.one_of(
            local_times,
            st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)).map(
                lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S")
            ),
        ),
        "corresponsiveAccount": st.one_of(
            texts, st.sampled_from([" 0451000368686 ", "0011004455667", "19036969696969"])
        ),
        "description": texts,
    },
)


@settings(max_examples=400)
@given(bank_items)
def test_the_bank_fast_path_reads_a_record_as_the_field_reader_does(
    item: dict[str, Any],
) -> None:
    try:
        careful = BANK._record_of(LineReader(item, "bank", DAY, "page 1 item 1"))
    except StatementFormatError:
        careful = None
    try:
        fast = BANK._typed_record(msgspec.convert(item, _Record, strict=True), item)
    except (msgspec.ValidationError, NotPlain):
        fast = None
    assert fast is None or fast == careful


RECORDED = Path(__file__).resolve().parents[2] / "fixtures" / "data" / "recorded"


@pytest.mark.parametrize(
    ("channel", "items_of", "typed", "fast", "careful"),
    [
        ("momo", lambda page: page["transactions"], _Txn, ADAPTER._typed_line, ADAPTER._line_of),
        ("portal", lambda page: page["items"], _Item, PORTAL._typed_line, PORTAL._line_of),
        ("bank", lambda page: page["data"]["records"], _Record, BANK._typed_record,
         BANK._record_of),
    ],
)  # fmt: skip
def test_every_recorded_line_takes_the_fast_path_to_the_same_line(
    channel: str, items_of: Any, typed: Any, fast: Any, careful: Any
) -> None:
    seen = 0
    for path in sorted((RECORDED / channel).glob("*.json")):
        for item in items_of(json.loads(path.read_text(encoding="utf-8"))):
            expected = careful(LineReader(item, channel, DAY, "page 1 item 1"))
            assert fast(msgspec.convert(item, typed, strict=True), item) == expected
            seen += 1
    assert seen >= 5
