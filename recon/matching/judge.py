"""Every disagreement a case (DESIGN 4 and 8): money on a dossier, lines without an owner,
claims the statements do not bear out, lines stuck pending, statements that fail their totals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Protocol

from recon.matching import explain
from recon.matching.types import CaseOut, ControlMismatch, Dossier, Line, Resolution
from recon.vocab import CaseType, DossierState

CLOSED_STATES: tuple[DossierState, ...] = ("cancelled", "rejected")


def _latest(lines: Sequence[Line]) -> Line:
    return max(lines, key=lambda line: (line.paid_at, line.channel, line.txn_id))


def _chronological(lines: Sequence[Line]) -> list[Line]:
    return sorted(lines, key=lambda line: (line.paid_at, line.channel, line.txn_id))


class Money(Protocol):
    """What the net reads of a line: the engine's lines, and the payment API's."""

    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def amount(self) -> int: ...


def net_of(lines: Sequence[Money]) -> int:
    """Successful payments minus successful refunds (DESIGN 3)."""
    net = 0
    for line in lines:
        if line.status == "success":
            if line.kind == "payment":
                net += line.amount
            elif line.kind == "refund":
                net -= line.amount
    return net


def _full_payments(successful: Sequence[Line], fee: int) -> int:
    """How many successful payments each paid the whole fee."""
    return sum(1 for line in successful if line.kind == "payment" and line.amount >= fee)


def judge_dossier(
    dossier: Dossier,
    lines: Sequence[Line],
    pulled: frozenset[tuple[str, date]],
    by_txn: Mapping[tuple[str, str], Line],
) -> tuple[int, list[CaseOut]]:
    """The dossier's net and its cases: at most one money case, a refund that took the net
    below 0, and its claim."""
    fee = dossier.fee
    successful = [line for line in lines if line.status == "success"]
    net = net_of(successful)
    cases: list[CaseOut] = []
    if net != fee or dossier.state in CLOSED_STATES:  # net == fee on an open dossier: no case
        money = _money_case(dossier, fee, net, successful)
        if money is not None:
            cases.append(money)
    if net < 0:
        cases.append(_refund_below_zero(dossier, successful))
    if dossier.claim_channel is not None:
        cases.extend(_claim_cases(dossier, net, lines, pulled, by_txn))
    return net, cases


def _money_case(dossier: Dossier, fee: int, net: int, successful: Sequence[Line]) -> CaseOut | None:
    kind: CaseType
    if net > 0 and dossier.state in CLOSED_STATES:
        kind, rule, text = (
            "PAYMENT_ON_CLOSED_DOSSIER",
            "net > 0 on a cancelled or rejected dossier",
            explain.closed_dossier(dossier.code, dossier.state, net),
        )
        fee = 0
    elif fee > 0 and net > fee and _full_payments(successful, fee) >= 2:
        times = _full_payments(successful, fee)
        kind, rule, text = (
            "DUPLICATE_PAYMENT",
            "two or more payments each >= fee, net > fee",
            explain.duplicate(dossier.code, fee, net, times),
        )
    elif net > fee:
        kind, rule, text = "OVERPAID", "net > fee", explain.overpaid(dossier.code, fee, net)
    elif 0 < net < fee:
        kind, rule, text = "UNDERPAID", "0 < net < fee", explain.underpaid(dossier.code, fee, net)
    else:
        return None
    latest = _latest(successful)
    return CaseOut(
        identity=f"{kind}:d{dossier.id}",
        type=kind,
        day=latest.day,
        channel=latest.channel,
        dossier_id=dossier.id,
        line_ids=tuple(sorted(line.id for line in successful)),
        expected=fee,
        actual=net,
        rule=rule,
        explanation=text,
    )


def _refund_below_zero(dossier: Dossier, successful: Sequence[Line]) -> CaseOut:
    running = 0
    culprit = None
    for line in _chronological(successful):
        running += line.amount if line.kind == "payment" else -line.amount
        if running < 0 and line.kind == "refund" and culprit is None:
            culprit = line
    if culprit is None:  # the refunds all came first: blame the last of them
        culprit = _latest([line for line in successful if line.kind == "refund"])
    net = net_of(successful)
    return _line_case(
        culprit,
        "UNMATCHED_REFUND",
        dossier_id=dossier.id,
        expected=None,
        actual=culprit.amount,
        rule="refund takes the dossier's net below 0",
        explanation=explain.refund_below_zero(
            culprit.channel, culprit.txn_id, culprit.amount, dossier.code, net
        ),
    )


def _claim_cases(
    dossier: Dossier,
    net: int,
    lines: Sequence[Line],
    pulled: frozenset[tuple[str, date]],
    by_txn: Mapping[tuple[str, str], Line],
) -> list[CaseOut]:
    channel, claimed_day = dossier.claim_channel, dossier.claim_day
    if channel is None or claimed_day is None:
        return []
    next_day = claimed_day + timedelta(days=1)
    if (channel, claimed_day) not in pulled or (channel, next_day) not in pulled:
        return []  # wait: D and D+1 must both be in before a claim is judged
    seen = [
        line
        for line in lines
        if line.channel == channel
        and line.kind == "payment"
        and line.day in (claimed_day, next_day)
    ]
    claimed = by_txn.get((channel, dossier.claim_txn_id)) if dossier.claim_txn_id else None
    if claimed is not None:
        seen.append(claimed)
    if any(line.status == "success" for line in seen):
        return []
    conflicting = [line for line in seen if line.status in ("failed", "reversed")]
    if conflicting:
        line = _latest(conflicting)
        return [
            _line_case(
                line,
                "STATUS_CONFLICT",
                dossier_id=dossier.id,
                expected=dossier.fee,
                actual=net,
                rule="claimed payment meets a failed or reversed line",
                explanation=explain.claim_conflict(dossier.code, channel, line.txn_id, line.status),
            )
        ]
    return [
        CaseOut(
            identity=f"MISSING_IN_STATEMENT:d{dossier.id}:{channel}:{claimed_day.isoformat()}",
            type="MISSING_IN_STATEMENT",
            day=claimed_day,
            channel=channel,
            dossier_id=dossier.id,
            line_ids=(),
            expected=dossier.fee,
            actual=0,
            rule="claimed payment absent from the statements of D and D+1",
            explanation=explain.missing(dossier.code, channel, claimed_day, next_day),
        )
    ]


def _line_case(
    line: Line,
    kind: CaseType,
    *,
    dossier_id: int | None,
    expected: int | None,
    actual: int,
    rule: str,
    explanation: str,
) -> CaseOut:
    return CaseOut(
        identity=f"{kind}:{line.channel}:{line.txn_id}",
        type=kind,
        day=line.day,
        channel=line.channel,
        dossier_id=dossier_id,
        line_ids=(line.id,),
        expected=expected,
        actual=actual,
        rule=rule,
        explanation=explanation,
    )


def judge_line(
    line: Line,
    resolution: Resolution,
    dossiers: Mapping[int, Dossier],
    nets: Mapping[int, int],
    pulled: frozenset[tuple[str, date]],
) -> CaseOut | None:
    """Cases of one line: money without an owner, a refund of nothing, a line stuck pending."""
    if line.kind == "settlement":
        return None
    if line.status == "success" and resolution.dossier_id is None:
        if line.kind == "payment" and resolution.ambiguous:
            named = [dossiers[d].code for d in resolution.ambiguous]
            return _line_case(
                line,
                "AMBIGUOUS_REFERENCE",
                dossier_id=None,
                expected=None,
                actual=line.amount,
                rule="rule 3 found several dossier codes in the text",
                explanation=explain.ambiguous(line.channel, line.txn_id, line.amount, named),
            )
        if line.kind == "payment":
            return _line_case(
                line,
                "UNMATCHED_PAYMENT",
                dossier_id=None,
                expected=None,
                actual=line.amount,
                rule="no rule resolved the line to a dossier",
                explanation=explain.unmatched_payment(
                    line.channel, line.txn_id, line.amount, line.day
                ),
            )
        if resolution.refunds_line_id is None:
            return _line_case(
                line,
                "UNMATCHED_REFUND",
                dossier_id=None,
                expected=None,
                actual=line.amount,
                rule="no payment to net the refund against",
                explanation=explain.unmatched_refund(line.channel, line.txn_id, line.amount),
            )
        return None
    if line.status != "pending":
        return None
    next_day = line.day + timedelta(days=1)
    if (line.channel, next_day) in pulled:
        owner = resolution.dossier_id
        return _line_case(
            line,
            "STATUS_CONFLICT",
            dossier_id=owner,
            expected=dossiers[owner].fee if owner is not None else None,
            actual=nets.get(owner, 0) if owner is not None else line.amount,
            rule="line still pending after the next day was pulled",
            explanation=explain.still_pending(
                line.channel, line.txn_id, line.amount, line.day, next_day
            ),
        )
    return None


def control_total_case(mismatch: ControlMismatch) -> CaseOut:
    expected = mismatch.expected_amount
    actual = mismatch.received_amount
    if expected is None:  # a count-only channel (the bank): compare counts
        expected, actual = mismatch.expected_count, mismatch.received_count
    return CaseOut(
        identity=f"CONTROL_TOTAL_MISMATCH:{mismatch.channel}:{mismatch.day.isoformat()}",
        type="CONTROL_TOTAL_MISMATCH",
        day=mismatch.day,
        channel=mismatch.channel,
        dossier_id=None,
        line_ids=(),
        expected=expected,
        actual=actual,
        rule="statement disagrees with its own control totals",
        explanation=explain.control_totals(
            mismatch.channel,
            mismatch.day,
            (mismatch.expected_count, mismatch.expected_amount),
            (mismatch.received_count, mismatch.received_amount),
        ),
    )
