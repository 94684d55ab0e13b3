"""Rules 1–3 of DESIGN 3, on the spec's own examples."""

from __future__ import annotations

import pytest
from hypothesis import given as hypothesis_given
from hypothesis import strategies as st

from recon.matching.engine import run_engine
from recon.matching.normalize import code_key, normalise_text
from recon.matching.types import Resolution
from tests.matching.builders import dossier, given, line

CODE = "H17.25-241125-0042"


def resolve(dossiers: list, lines: list) -> dict[int, Resolution]:
    output = run_engine(given(dossiers, lines))
    return {r.line_id: r for r in output.resolutions}


def test_rule_1_order_ref_equals_a_payment_ref_ignoring_case_and_space() -> None:
    d = dossier(refs=("MM2411250001",))
    paid = line(order_ref="  mm2411250001 ")
    [r] = resolve([d], [paid]).values()
    assert (r.dossier_id, r.rule) == (d.id, "payment_ref")
    assert r.fields["order_ref"] == "  mm2411250001 "


def test_rule_2_order_ref_or_hint_equals_a_dossier_code() -> None:
    d = dossier()
    by_ref = line(order_ref=" h17.25-241125-0042")
    by_hint = line(hint="H17.25-241125-0042", order_ref="PORTAL-XYZ")
    found = resolve([d], [by_ref, by_hint])
    assert (found[by_ref.id].dossier_id, found[by_ref.id].rule) == (d.id, "dossier_code")
    assert (found[by_hint.id].dossier_id, found[by_hint.id].rule) == (d.id, "dossier_code")
    assert found[by_hint.id].fields["dossier_hint"] == "H17.25-241125-0042"


@pytest.mark.parametrize(
    "text",
    [
        "h17.25-241125-0042",
        "H1725241125 0042",
        "H17.25 241125.0042",
        "MBVCB.1234.H1725241125 0042.CHUYEN TIEN",
        "Thanh toán phí hồ sơ H17.25-241125-0042 cho Nguyễn Văn An",
    ],
)
def test_rule_3_finds_a_code_whatever_its_punctuation_and_case(text: str) -> None:
    d = dossier()
    paid = line(text=text)
    [r] = resolve([d], [paid]).values()
    assert (r.dossier_id, r.rule) == (d.id, "text")


def test_rule_3_a_text_naming_two_dossiers_resolves_to_none() -> None:
    a, b = dossier(), dossier("H17.25-241125-0043")
    paid = line(text="Nop phi H17.25-241125-0042 va H17.25-241125-0043")
    [r] = resolve([a, b], [paid]).values()
    assert r.dossier_id is None
    assert r.ambiguous == (a.id, b.id)


def test_rule_3_the_same_dossier_named_twice_is_one_dossier() -> None:
    d = dossier()
    paid = line(text="HS H17.25-241125-0042 (nhac lai: H1725241125-0042)")
    [r] = resolve([d], [paid]).values()
    assert r.dossier_id == d.id


def test_rule_3_a_code_inside_a_longer_found_code_does_not_count() -> None:
    short = dossier("H17.25-241125-004")
    long = dossier("H17.25-241125-0042")
    paid = line(text="Phi ho so H17.25-241125-0042")
    [r] = resolve([short, long], [paid]).values()
    assert r.dossier_id == long.id


def test_first_hit_wins_a_payment_ref_before_a_code_in_the_text() -> None:
    a = dossier(refs=("MM1",))
    b = dossier("H17.25-241125-0099")
    paid = line(order_ref="MM1", text="nhầm mã H17.25-241125-0099")
    [r] = resolve([a, b], [paid]).values()
    assert (r.dossier_id, r.rule) == (a.id, "payment_ref")


def test_the_order_ref_is_searched_by_rule_3_too() -> None:
    d = dossier()
    paid = line(order_ref="ZP-H1725241125-0042-1")
    [r] = resolve([d], [paid]).values()
    assert (r.dossier_id, r.rule) == (d.id, "text")


def test_a_refund_follows_the_payment_it_refunds() -> None:
    d = dossier(refs=("MM1",))
    paid = line(order_ref="MM1", txn="100")
    by_txn = line(kind="refund", refund_of="100", order_ref="RF-9")
    by_ref = line(kind="refund", order_ref="MM1", channel="momo")
    found = resolve([d], [paid, by_txn, by_ref])
    assert (found[by_txn.id].dossier_id, found[by_txn.id].rule) == (d.id, "refund")
    assert found[by_txn.id].refunds_line_id == paid.id
    assert found[by_ref.id].dossier_id == d.id


def test_a_refund_without_its_payment_resolves_to_none() -> None:
    d = dossier(refs=("MM1",))
    orphan = line(kind="refund", refund_of="999", order_ref="MM1")
    [r] = resolve([d], [orphan]).values()
    assert r.dossier_id is None
    assert r.refunds_line_id is None


def test_settlements_never_resolve() -> None:
    d = dossier()
    settlement = line(kind="settlement", text=CODE)
    [r] = resolve([d], [settlement]).values()
    assert r.dossier_id is None


def test_normalisation_of_vietnamese_text() -> None:
    assert normalise_text("Đặng Thị Đào – hồ sơ h17.25") == "DANGTHIDAOHOSOH1725"
    assert code_key("H17.25-241125-0042") == "H17252411250042"


@hypothesis_given(st.text(max_size=40))
def test_normalisation_is_idempotent_and_case_blind(text: str) -> None:
    once = normalise_text(text)
    assert normalise_text(once) == once
    assert normalise_text(text.lower()) == normalise_text(text.upper()) or not text.isascii()
    assert once == "" or once.isalnum()


@hypothesis_given(
    st.lists(st.sampled_from(["-", ".", " ", "_", "/", ""]), min_size=14, max_size=14)
)
def test_any_punctuation_between_the_characters_still_finds_the_code(seps: list[str]) -> None:
    d = dossier()
    chars = "H1725241125004"
    text = "".join(c + s for c, s in zip(chars, seps, strict=True)) + "2"
    [r] = resolve([d], [line(text=f"chuyen tien {text} xong")]).values()
    assert r.dossier_id == d.id
