"""Every case type of DESIGN 4 and the readings of DESIGN 8, on the spec's examples."""

from __future__ import annotations

from datetime import time

import msgspec

from recon.matching.engine import run_engine
from recon.matching.types import CaseOut, ControlMismatch, EngineOutput
from tests.matching.builders import D1, D2, days, dossier, given, line

CODE = "H17.25-241125-0042"


def cases(output: EngineOutput) -> dict[str, CaseOut]:
    return {c.type: c for c in output.cases}


def test_an_exact_payment_raises_nothing() -> None:
    d = dossier(refs=("MM1",))
    out = run_engine(given([d], [line(order_ref="MM1")]))
    assert out.cases == ()
    assert out.nets == {d.id: 15_000}


def test_an_unpaid_dossier_is_not_a_case() -> None:
    assert run_engine(given([dossier()], [])).cases == ()


def test_underpaid() -> None:
    d = dossier(refs=("MM1",))
    found = cases(run_engine(given([d], [line(10_000, order_ref="MM1")])))
    case = found["UNDERPAID"]
    assert (case.expected, case.actual, case.dossier_id) == (15_000, 10_000, d.id)
    assert case.identity == f"UNDERPAID:d{d.id}"
    assert "còn thiếu 5.000 ₫" in case.explanation
    assert "24/11/2025" not in case.explanation


def test_half_by_momo_one_day_and_half_by_bank_the_next_ends_paid() -> None:
    d = dossier()
    first = line(7_500, channel="momo", text=CODE, day=D1)
    second = line(7_500, channel="bank", text="MBVCB.H1725241125 0042", day=D2)
    assert cases(run_engine(given([d], [first])))["UNDERPAID"].actual == 7_500
    assert run_engine(given([d], [first, second])).cases == ()


def test_overpaid_dated_on_the_latest_successful_line() -> None:
    d = dossier(refs=("MM1", "MM2"))
    lines = [
        line(10_000, order_ref="MM1", day=D1),
        line(10_000, order_ref="MM2", day=D2, channel="bank"),
    ]
    case = cases(run_engine(given([d], lines)))["OVERPAID"]
    assert (case.expected, case.actual, case.day, case.channel) == (15_000, 20_000, D2, "bank")


def test_an_exempt_dossier_paid_anyway_is_overpaid() -> None:
    d = dossier(fee=0)
    case = cases(run_engine(given([d], [line(8_000, text=CODE)])))["OVERPAID"]
    assert (case.expected, case.actual) == (0, 8_000)
    assert "miễn lệ phí" in case.explanation


def test_an_exempt_dossier_paid_then_refunded_raises_nothing() -> None:
    d = dossier(fee=0)
    paid = line(8_000, text=CODE, txn="1")
    refund = line(8_000, kind="refund", refund_of="1", day=D2)
    out = run_engine(given([d], [paid, refund]))
    assert out.cases == ()
    assert out.nets[d.id] == 0


def test_paying_twice_in_full_is_a_duplicate_not_merely_overpaid() -> None:
    d = dossier(refs=("MM1", "MM2"))
    lines = [line(order_ref="MM1"), line(order_ref="MM2", at=time(11, 0))]
    found = cases(run_engine(given([d], lines)))
    assert set(found) == {"DUPLICATE_PAYMENT"}
    assert (found["DUPLICATE_PAYMENT"].expected, found["DUPLICATE_PAYMENT"].actual) == (
        15_000,
        30_000,
    )


def test_a_payment_on_a_cancelled_dossier_comes_first() -> None:
    d = dossier(state="cancelled", refs=("MM1", "MM2"))
    lines = [line(order_ref="MM1"), line(order_ref="MM2")]
    found = cases(run_engine(given([d], lines)))
    assert set(found) == {"PAYMENT_ON_CLOSED_DOSSIER"}
    assert (
        found["PAYMENT_ON_CLOSED_DOSSIER"].expected,
        found["PAYMENT_ON_CLOSED_DOSSIER"].actual,
    ) == (0, 30_000)
    assert "đã bị huỷ" in found["PAYMENT_ON_CLOSED_DOSSIER"].explanation


def test_a_rejected_dossier_without_money_raises_nothing() -> None:
    assert run_engine(given([dossier(state="rejected")], [])).cases == ()


def test_a_refund_nets_a_payment_made_on_an_earlier_day() -> None:
    d = dossier(refs=("MM1",))
    paid = line(20_000, order_ref="MM1", txn="500", day=D1)
    refund = line(5_000, kind="refund", refund_of="500", order_ref="RF1", day=D2)
    out = run_engine(given([d], [paid, refund]))
    assert out.cases == ()
    assert out.nets[d.id] == 15_000


def test_a_payment_refunded_in_full_raises_no_underpaid() -> None:
    d = dossier(refs=("MM1",))
    paid = line(order_ref="MM1", txn="500")
    refund = line(kind="refund", refund_of="500", day=D2)
    out = run_engine(given([d], [paid, refund]))
    assert out.cases == ()
    assert out.nets[d.id] == 0


def test_only_successful_lines_move_money() -> None:
    d = dossier(refs=("MM1", "MM2", "MM3"))
    lines = [
        line(order_ref="MM1", status="failed"),
        line(order_ref="MM2", status="reversed"),
        line(order_ref="MM3", status="pending"),
    ]
    out = run_engine(given([d], lines))
    assert out.nets[d.id] == 0
    assert out.cases == ()


def test_money_with_no_owner() -> None:
    paid = line(50_000, txn="777", text="chuyen tien hoc phi")
    case = cases(run_engine(given([dossier()], [paid])))["UNMATCHED_PAYMENT"]
    assert case.identity == "UNMATCHED_PAYMENT:momo:777"
    assert (case.expected, case.actual, case.day, case.dossier_id) == (None, 50_000, D1, None)
    assert "không khớp với hồ sơ nào" in case.explanation


def test_a_text_naming_two_dossiers_is_ambiguous_not_unmatched() -> None:
    a, b = dossier(), dossier("H17.25-241125-0043")
    paid = line(text=f"{a.code} {b.code}")
    found = cases(run_engine(given([a, b], [paid])))
    assert set(found) == {"AMBIGUOUS_REFERENCE"}
    assert a.code in found["AMBIGUOUS_REFERENCE"].explanation
    assert b.code in found["AMBIGUOUS_REFERENCE"].explanation


def test_a_refund_of_nothing() -> None:
    refund = line(5_000, kind="refund", refund_of="404", txn="R1")
    case = cases(run_engine(given([dossier()], [refund])))["UNMATCHED_REFUND"]
    assert (case.identity, case.actual) == ("UNMATCHED_REFUND:momo:R1", 5_000)


def test_a_refund_taking_the_net_below_zero_is_an_unmatched_refund() -> None:
    d = dossier(refs=("MM1",))
    paid = line(10_000, order_ref="MM1", txn="P")
    first = line(6_000, kind="refund", refund_of="P", txn="R1", at=time(11))
    second = line(6_000, kind="refund", refund_of="P", txn="R2", at=time(12))
    out = run_engine(given([d], [paid, first, second]))
    [case] = out.cases
    assert (case.type, case.identity, case.dossier_id) == (
        "UNMATCHED_REFUND",
        "UNMATCHED_REFUND:momo:R2",
        d.id,
    )
    assert out.nets[d.id] == -2_000


def test_a_claimed_payment_missing_from_both_days_of_the_statement() -> None:
    d = dossier(claim=("momo", D1))
    out = run_engine(given([d], [], pulled=days("momo", D1, 2)))
    [case] = out.cases
    assert case.identity == f"MISSING_IN_STATEMENT:d{d.id}:momo:2025-11-24"
    assert (case.expected, case.actual, case.day, case.channel) == (15_000, 0, D1, "momo")


def test_a_claim_waits_until_the_next_day_is_pulled() -> None:
    d = dossier(claim=("momo", D1))
    assert run_engine(given([d], [], pulled={("momo", D1)})).cases == ()


def test_a_claim_on_a_day_whose_pull_failed_is_not_judged() -> None:
    d = dossier(claim=("momo", D1))
    # D1's pull failed: it is not among the pulled channel-days
    assert run_engine(given([d], [], pulled={("momo", D2)})).cases == ()


def test_a_claim_paid_the_next_day_is_fine() -> None:
    d = dossier(refs=("MM1",), claim=("momo", D1))
    paid = line(order_ref="MM1", day=D2, at=time(0, 0))
    assert run_engine(given([d], [paid], pulled=days("momo", D1, 2))).cases == ()


def test_a_claim_found_by_its_transaction_id_is_fine() -> None:
    d = dossier(claim=("momo", D1), claim_txn="999")
    elsewhere = line(txn="999", day=D1, text="no code here")
    out = run_engine(given([d], [elsewhere], pulled=days("momo", D1, 2)))
    assert {c.type for c in out.cases} == {"UNMATCHED_PAYMENT"}


def test_a_claim_meeting_a_failed_line_is_a_status_conflict_instead() -> None:
    d = dossier(refs=("MM1",), claim=("momo", D1))
    failed = line(order_ref="MM1", status="failed", txn="F1")
    [case] = run_engine(given([d], [failed], pulled=days("momo", D1, 2))).cases
    assert (case.type, case.identity) == ("STATUS_CONFLICT", "STATUS_CONFLICT:momo:F1")
    assert (case.expected, case.actual, case.dossier_id) == (15_000, 0, d.id)
    assert "thất bại" in case.explanation


def test_a_line_still_pending_after_the_next_day_is_a_status_conflict() -> None:
    d = dossier(refs=("MM1",))
    pending = line(order_ref="MM1", status="pending", txn="P1")
    assert run_engine(given([d], [pending], pulled={("momo", D1)})).cases == ()
    [case] = run_engine(given([d], [pending], pulled=days("momo", D1, 2))).cases
    assert (case.type, case.expected, case.actual) == ("STATUS_CONFLICT", 15_000, 0)


def test_an_unresolved_pending_line_has_expected_null_and_its_amount() -> None:
    pending = line(9_000, status="pending", txn="P2", text="???")
    [case] = run_engine(given([], [pending], pulled=days("momo", D1, 2))).cases
    assert (case.type, case.expected, case.actual, case.dossier_id) == (
        "STATUS_CONFLICT",
        None,
        9_000,
        None,
    )


def test_a_statement_that_fails_its_control_totals() -> None:
    mismatch = ControlMismatch(
        channel="portal",
        day=D1,
        expected_count=10,
        expected_amount=150_000,
        received_count=9,
        received_amount=135_000,
    )
    [case] = run_engine(given([], [], mismatches=(mismatch,))).cases
    assert case.identity == "CONTROL_TOTAL_MISMATCH:portal:2025-11-24"
    assert (case.expected, case.actual) == (150_000, 135_000)
    assert "24/11/2025" in case.explanation


def test_the_bank_compares_counts() -> None:
    mismatch = ControlMismatch(
        channel="bank",
        day=D1,
        expected_count=10,
        expected_amount=None,
        received_count=9,
        received_amount=None,
    )
    [case] = run_engine(given([], [], mismatches=(mismatch,))).cases
    assert (case.expected, case.actual) == (10, 9)


def test_a_payment_at_235959_local_is_that_business_day() -> None:
    d = dossier(refs=("MM1",))
    late = line(10_000, order_ref="MM1", day=D1, at=time(23, 59, 59))
    case = cases(run_engine(given([d], [late])))["UNDERPAID"]
    assert case.day == D1


def test_judging_can_be_limited_to_some_dossiers_and_lines() -> None:
    a, b = dossier(refs=("A",)), dossier("H17.25-241125-0050", refs=("B",))
    lines = [line(1_000, order_ref="A"), line(1_000, order_ref="B"), line(5, text="?")]
    out = run_engine(
        given([a, b], lines, judge_dossier_ids=frozenset({a.id}), judge_line_ids=frozenset())
    )
    assert [c.identity for c in out.cases] == [f"UNDERPAID:d{a.id}"]


def test_the_same_input_gives_byte_identical_output_whatever_its_order() -> None:
    a, b = dossier(refs=("MM1",)), dossier("H17.25-241125-0043", fee=0)
    lines = [
        line(10_000, order_ref="MM1"),
        line(3_000, text="H17.25-241125-0043"),
        line(1, text="?"),
        line(2, kind="refund", refund_of="x"),
    ]
    first = msgspec.json.encode(run_engine(given([a, b], lines)))
    second = msgspec.json.encode(run_engine(given([b, a], list(reversed(lines)))))
    assert first == second
