"""A line a person linked to a dossier (DESIGN 4, `linked`) goes there ahead of rules 1–3."""

from __future__ import annotations

from recon.matching.engine import run_engine
from tests.matching.builders import dossier, given, line


def test_a_linked_line_goes_to_its_dossier_ahead_of_rules_1_to_3() -> None:
    named = dossier(code="H17.25-241125-0001", refs=("MM1",))
    chosen = dossier(code="H17.25-241125-0002", fee=5_000)
    paid = line(5_000, order_ref="MM1", text="HS H17.25-241125-0001", linked_to=chosen.id)
    output = run_engine(given([named, chosen], [paid]))
    [resolution] = output.resolutions
    assert (resolution.dossier_id, resolution.rule) == (chosen.id, "linked")
    assert resolution.fields == {"linked": "by hand", "dossier_code": chosen.code}
    assert output.nets == {named.id: 0, chosen.id: 5_000}
    assert output.cases == ()  # the chosen dossier is paid, the named one unpaid: no case


def test_a_refund_follows_its_linked_payment() -> None:
    chosen = dossier(fee=5_000)
    paid = line(5_000, txn="P1", order_ref="ZZZ", linked_to=chosen.id)
    refund = line(1_000, txn="R1", kind="refund", refund_of="P1")
    output = run_engine(given([chosen], [paid, refund]))
    assert {r.line_id: r.dossier_id for r in output.resolutions} == {
        paid.id: chosen.id,
        refund.id: chosen.id,
    }
    assert [(c.type, c.actual) for c in output.cases] == [("UNDERPAID", 4_000)]


def test_a_link_to_a_dossier_not_given_falls_back_to_the_rules() -> None:
    paid = line(5_000, text="Chuyen tien", linked_to=999_999)
    [resolution] = run_engine(given([], [paid])).resolutions
    assert resolution.dossier_id is None
    assert [c.type for c in run_engine(given([], [paid])).cases] == ["UNMATCHED_PAYMENT"]
