"""The fee_amount grammar of DESIGN 2.5, row by row, plus its invariants."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recon.rows import parse_vnd

SEPARATORS = [".", ",", " ", "\u00a0", "\u202f"]


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("0", 0),
        ("1500", 1500),
        ("1.500", 1500),
        ("1,500", 1500),
        ("1 500", 1500),
        ("1\u00a0500", 1500),
        ("1\u202f500", 1500),
        ("1.500.000", 1_500_000),
        ("99.000.000", 99_000_000),
        (" 25.000 ", 25_000),
        ("1000000000000000", 10**15),
        ("1.000.000.000.000.000", 10**15),
    ],
)
def test_accepted_amounts(text: str, amount: int) -> None:
    assert parse_vnd(text) == amount


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("1.5", "not a whole number"),
        ("1.5000", "not a whole number"),
        ("1500.0", "not a whole number"),
        ("1.500,000", "not a whole number"),
        ("1500.000", "not a whole number"),
        ("1..500", "not a whole number"),
        (".500", "not a whole number"),
        ("1.500.", "not a whole number"),
        ("-1500", "has a sign"),
        ("+1500", "has a sign"),
        ("1e3", "exponent"),
        ("1E3", "exponent"),
        ("1500đ", "not a whole number"),
        ("١٥٠٠", "not a whole number"),  # non-ASCII digits
        ("1000000000000001", "above the limit"),
        ("1.000.000.000.000.001", "above the limit"),
    ],
)
def test_rejected_amounts_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_vnd(text)


@given(st.integers(min_value=0, max_value=10**15), st.sampled_from(SEPARATORS))
def test_any_amount_grouped_by_three_reads_back(amount: int, separator: str) -> None:
    grouped = f"{amount:,}".replace(",", separator)
    assert parse_vnd(grouped) == amount
    assert parse_vnd(str(amount)) == amount


@given(st.integers(min_value=1, max_value=10**15), st.integers(min_value=1, max_value=2))
def test_groups_other_than_three_are_refused(amount: int, digits: int) -> None:
    text = f"{amount}.{'5' * digits}"
    with pytest.raises(ValueError, match="not a whole number"):
        parse_vnd(text)
