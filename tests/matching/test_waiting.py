"""A channel whose statement could not be got in a run: what rests on it waits (issue 10)."""

from __future__ import annotations

import msgspec
from hypothesis import given as hypothesis_given
from hypothesis import settings
from hypothesis import strategies as st

from recon.matching.engine import run_engine
from recon.matching.types import CaseOut, EngineInput, EngineOutput
from tests.matching.builders import D1, D2, days, dossier, given, line
from tests.matching.test_properties import CHANNELS, wards


def waiting_on(ward: EngineInput, *channels: str) -> EngineOutput:
    return run_engine(msgspec.structs.replace(ward, waiting=frozenset(channels)))


def test_a_split_payment_is_not_settled_while_one_of_its_channels_waits() -> None:
    split = dossier(fee=20_000)
    alone = dossier("H17.25-241125-0043", fee=20_000)
    lines = [
        line(10_000, channel="momo", order_ref=split.code, day=D1),
        line(10_000, channel="bank", text=f"HS {split.code}", day=D2),
        line(5_000, channel="bank", text=f"HS {alone.code}", day=D2),
    ]
    ward = given([split, alone], lines, days("momo", D1, 3) | days("bank", D1, 3))
    everything = run_engine(ward)
    assert {c.identity for c in everything.cases} == {f"UNDERPAID:d{alone.id}"}

    held = waiting_on(ward, "momo")
    # the split dossier has MoMo money: its judgement waits, its UNDERPAID is neither closed
    # nor touched; the other dossier, all bank, is judged as ever
    assert held.held_dossier_ids == {split.id}
    assert held.held_line_ids == {lines[0].id, lines[1].id}
    assert {c.identity for c in held.cases} == {f"UNDERPAID:d{alone.id}"}
    assert split.id not in held.nets
    assert held.resolutions == everything.resolutions  # where a line goes needs no statement


def test_a_claim_on_a_waiting_channel_is_not_judged() -> None:
    claimant = dossier(claim=("portal", D1))
    ward = given([claimant], [], days("portal", D1, 2))
    assert [c.type for c in run_engine(ward).cases] == ["MISSING_IN_STATEMENT"]
    held = waiting_on(ward, "portal")
    assert held.cases == ()
    assert held.held_dossier_ids == {claimant.id}


def test_an_owner_less_line_of_a_waiting_channel_keeps_its_case_as_it_is() -> None:
    stray = line(5_000, channel="momo", text="chuyen tien")
    pending = line(5_000, channel="momo", status="pending", day=D1)
    ward = given([], [stray, pending], days("momo", D1, 2))
    assert {c.type for c in run_engine(ward).cases} == {"UNMATCHED_PAYMENT", "STATUS_CONFLICT"}
    held = waiting_on(ward, "momo")
    assert held.cases == ()
    assert held.held_line_ids == {stray.id, pending.id}
    assert waiting_on(ward, "bank").cases == run_engine(ward).cases


def _rests_on(case: CaseOut, out: EngineOutput) -> bool:
    return case.dossier_id in out.held_dossier_ids or bool(set(case.line_ids) & out.held_line_ids)


@settings(max_examples=200, deadline=None)
@hypothesis_given(wards(), st.sets(st.sampled_from(CHANNELS), min_size=1))
def test_what_rests_on_a_waiting_channel_waits_and_the_rest_is_judged_as_ever(
    ward: EngineInput, waiting: set[str]
) -> None:
    everything = run_engine(ward)
    held = waiting_on(ward, *waiting)
    owner = {r.line_id: r.dossier_id for r in everything.resolutions}
    resting = {d.id for d in ward.dossiers if d.claim_channel in waiting}
    resting |= {owner[x.id] for x in ward.lines if x.channel in waiting} - {None}
    assert held.held_dossier_ids == resting
    assert held.held_line_ids == {
        x.id for x in ward.lines if x.channel in waiting or owner[x.id] in resting
    }
    # no case, net or judgement touches what rests on a waiting channel ...
    assert not any(_rests_on(c, held) for c in held.cases)
    assert not any(c.channel in waiting for c in held.cases)
    assert resting.isdisjoint(held.nets)
    # ... and everything else is judged exactly as with every statement in
    assert held.cases == tuple(c for c in everything.cases if not _rests_on(c, held))
    assert held.nets == {k: v for k, v in everything.nets.items() if k not in resting}
    assert held.resolutions == everything.resolutions
