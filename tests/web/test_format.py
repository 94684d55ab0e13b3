"""The pages' filters: money as `1.234.567 ₫`, dates as `dd/mm/yyyy`, case types in Vietnamese."""

from __future__ import annotations

from datetime import date

import pytest

from recon.vocab import CASE_TYPES
from recon.web.format import CASE_TYPE_NAMES, FILTERS, ho_so, loai, ngay, ngay_ngan, so, vnd


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (1_234_567, "1.234.567 ₫"),
        (0, "0 ₫"),
        (5, "5 ₫"),
        (1_000, "1.000 ₫"),
        (999_999, "999.999 ₫"),
        (-1_234, "-1.234 ₫"),
        (-5, "-5 ₫"),
        (10**15, "1.000.000.000.000.000 ₫"),
    ],
)
def test_money_is_written_with_dots_between_thousands_and_the_dong_sign(
    amount: int, text: str
) -> None:
    assert vnd(amount) == text


def test_counts_are_written_with_dots_and_no_unit() -> None:
    assert so(1_234) == "1.234"
    assert so(0) == "0"
    assert so(-12_345) == "-12.345"


def test_dates_are_day_month_year() -> None:
    assert ngay(date(2025, 11, 4)) == "04/11/2025"
    assert ngay(date(2024, 2, 29)) == "29/02/2024"
    assert ngay(date(999, 1, 1)) == "01/01/0999"
    assert ngay_ngan(date(2025, 1, 9)) == "09/01"


def test_every_case_type_has_a_vietnamese_name() -> None:
    assert set(CASE_TYPE_NAMES) == set(CASE_TYPES)
    assert loai("UNDERPAID") == "Thu thiếu"
    assert loai("SOMETHING_NEW") == "SOMETHING_NEW"
    assert ho_so({"OVERPAID": 2, "UNDERPAID": 1}) == "Thu thiếu: 1; Thu thừa: 2"


def test_the_templates_know_every_filter() -> None:
    assert {"vnd", "so", "ngay", "ngay_ngan", "loai", "ho_so"} <= set(FILTERS)
