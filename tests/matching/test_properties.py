"""Invariants of the engine on random wards (hypothesis)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import msgspec
from hypothesis import given as hypothesis_given
from hypothesis import settings
from hypothesis import strategies as st

from recon.matching.engine import run_engine
from recon.matching.types import Dossier, EngineInput, Line
from recon.vocab import MONEY_CASE_TYPES as MONEY_TYPES
from tests.matching.builders import D1, dossier, line

CHANNELS = ["momo", "portal", "bank"]
STATES = ["received", "processing", "completed", "cancelled", "rejected"]


@st.composite
def wards(draw: st.DrawFn) -> EngineInput:
    count = draw(st.integers(min_value=0, max_value=8))
    dossiers: list[Dossier] = []
    for n in range(count):
        code = f"H17.25-2411{n % 3}5-{n:04d}"
        refs = tuple(f"REF{n}-{k}" for k in range(draw(st.integers(0, 2))))
        claim = None
        if draw(st.booleans()) and draw(st.booleans()):
            claim = (draw(st.sampled_from(CHANNELS)), D1 + timedelta(days=draw(st.integers(0, 2))))
        dossiers.append(
            dossier(
                code,
                fee=draw(st.sampled_from([0, 2_000, 15_000, 100_000])),
                state=draw(st.sampled_from(STATES)),
                refs=refs,
                claim=claim,
                id=n + 1,
            )
        )
    lines: list[Line] = []
    for n in range(draw(st.integers(min_value=0, max_value=14))):
        target = draw(st.integers(0, max(count - 1, 0))) if count else 0
        how = draw(st.sampled_from(["ref", "code", "text", "two", "none"]))
        order_ref = text = None
        if count and how == "ref" and dossiers[target].ref_keys:
            order_ref = dossiers[target].ref_keys[0].lower()
        elif count and how == "code":
            order_ref = dossiers[target].code
        elif count and how == "text":
            text = f"Nop phi {dossiers[target].code.replace('.', ' ')}"
        elif count > 1 and how == "two":
            text = f"{dossiers[0].code} va {dossiers[-1].code}"
        kind = draw(st.sampled_from(["payment", "payment", "payment", "refund", "settlement"]))
        refund_of = None
        if kind == "refund" and lines and draw(st.booleans()):
            refund_of = draw(st.sampled_from(lines)).txn_id
        lines.append(
            line(
                draw(st.sampled_from([1_000, 2_000, 7_500, 15_000, 100_000])),
                id=100 + n,
                txn=f"T{n}",
                channel=draw(st.sampled_from(CHANNELS)),
                order_ref=order_ref,
                text=text or "",
                kind=kind,
                status=draw(
                    st.sampled_from(["success", "success", "failed", "pending", "reversed"])
                ),
                day=D1 + timedelta(days=draw(st.integers(0, 2))),
                refund_of=refund_of,
            )
        )
    pulled = frozenset(
        (c, D1 + timedelta(days=k)) for c in CHANNELS for k in range(4) if draw(st.booleans())
    )
    return EngineInput(dossiers=tuple(dossiers), lines=tuple(lines), pulled=pulled)


def successful_payments(ward: EngineInput) -> list[Line]:
    return [x for x in ward.lines if x.kind == "payment" and x.status == "success"]


@settings(max_examples=150, deadline=None)
@hypothesis_given(wards())
def test_every_successful_payment_is_matched_or_in_exactly_one_ownerless_case(
    ward: EngineInput,
) -> None:
    out = run_engine(ward)
    owner = {r.line_id: r.dossier_id for r in out.resolutions}
    ownerless = Counter(
        line_id
        for case in out.cases
        if case.type in ("UNMATCHED_PAYMENT", "AMBIGUOUS_REFERENCE")
        for line_id in case.line_ids
    )
    for payment in successful_payments(ward):
        if owner[payment.id] is None:
            assert ownerless[payment.id] == 1
        else:
            assert ownerless[payment.id] == 0


@settings(max_examples=150, deadline=None)
@hypothesis_given(wards())
def test_money_is_conserved(ward: EngineInput) -> None:
    out = run_engine(ward)
    owner = {r.line_id: r.dossier_id for r in out.resolutions}
    # every successful money line lands in exactly one place, a dossier's net or nowhere:
    # the nets and the owner-less lines add up to the statement's own totals
    money = [x for x in ward.lines if x.status == "success" and x.kind in ("payment", "refund")]

    def signed(x: Line) -> int:
        return x.amount if x.kind == "payment" else -x.amount

    ownerless = sum(signed(x) for x in money if owner[x.id] is None)
    assert sum(out.nets.values()) + ownerless == sum(signed(x) for x in money)
    for d in ward.dossiers:
        mine = [x for x in ward.lines if owner[x.id] == d.id and x.status == "success"]
        paid = sum(x.amount for x in mine if x.kind == "payment")
        refunded = sum(x.amount for x in mine if x.kind == "refund")
        assert out.nets[d.id] == paid - refunded


@settings(max_examples=150, deadline=None)
@hypothesis_given(wards())
def test_at_most_one_money_case_per_dossier_and_its_actual_is_the_net(ward: EngineInput) -> None:
    out = run_engine(ward)
    amounts = {x.id: x.amount for x in ward.lines}
    per_dossier = Counter(c.dossier_id for c in out.cases if c.type in MONEY_TYPES)
    assert all(n == 1 for n in per_dossier.values())
    for case in out.cases:
        if case.type in MONEY_TYPES:
            assert case.dossier_id is not None
            assert case.actual == out.nets[case.dossier_id]
        elif case.type in ("UNMATCHED_PAYMENT", "AMBIGUOUS_REFERENCE", "UNMATCHED_REFUND"):
            (line_id,) = case.line_ids  # the line itself is the money at stake
            assert case.actual == amounts[line_id]
            assert case.expected is None
    assert len({c.identity for c in out.cases}) == len(out.cases)


@settings(max_examples=100, deadline=None)
@hypothesis_given(wards(), st.randoms(use_true_random=False))
def test_the_output_does_not_depend_on_input_order(ward: EngineInput, rng: object) -> None:
    import random

    assert isinstance(rng, random.Random)
    dossiers, lines = list(ward.dossiers), list(ward.lines)
    rng.shuffle(dossiers)
    rng.shuffle(lines)
    shuffled = msgspec.structs.replace(ward, dossiers=tuple(dossiers), lines=tuple(lines))
    assert msgspec.json.encode(run_engine(ward)) == msgspec.json.encode(run_engine(shuffled))


@settings(max_examples=100, deadline=None)
@hypothesis_given(wards())
def test_a_dossier_whose_net_equals_its_fee_raises_no_money_case(ward: EngineInput) -> None:
    out = run_engine(ward)
    fees = {d.id: d for d in ward.dossiers}
    for case in out.cases:
        if case.type in MONEY_TYPES and case.dossier_id is not None:
            d = fees[case.dossier_id]
            if d.state not in ("cancelled", "rejected"):
                assert out.nets[d.id] != d.fee
    # a case is dated on one of its lines, or (a claim the statements do not bear out) on the
    # claimed day
    days_of = {x.id: x.day for x in ward.lines}
    for case in out.cases:
        if case.line_ids:
            assert case.day in {days_of[i] for i in case.line_ids}, case
        else:
            assert case.type == "MISSING_IN_STATEMENT"
            assert fees[case.dossier_id or 0].claim_day == case.day
