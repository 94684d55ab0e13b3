"""Small builders for engine inputs, in the spec's own terms."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from recon.domain import LOCAL_TZ
from recon.matching.normalize import code_key, ref_key
from recon.matching.types import Dossier, EngineInput, Line

D1 = date(2025, 11, 24)
D2 = date(2025, 11, 25)
_ids = itertools.count(1)


def dossier(
    code: str = "H17.25-241125-0042",
    fee: int = 15_000,
    state: str = "received",
    refs: tuple[str, ...] = (),
    claim: tuple[str, date] | None = None,
    claim_txn: str | None = None,
    id: int | None = None,
) -> Dossier:
    return Dossier(
        id=id if id is not None else next(_ids),
        code=code,
        code_key=code_key(code),
        fee=fee,
        state=state,
        ref_keys=tuple(ref_key(r) for r in refs),
        claim_channel=claim[0] if claim else None,
        claim_day=claim[1] if claim else None,
        claim_txn_id=claim_txn,
    )


def line(
    amount: int = 15_000,
    *,
    channel: str = "momo",
    txn: str | None = None,
    order_ref: str | None = None,
    hint: str | None = None,
    text: str = "",
    kind: str = "payment",
    status: str = "success",
    day: date = D1,
    at: time = time(10, 0),
    refund_of: str | None = None,
    id: int | None = None,
    **extra: Any,
) -> Line:
    line_id = id if id is not None else next(_ids)
    paid_at = datetime.combine(day, at, tzinfo=LOCAL_TZ).astimezone(UTC)
    return Line(
        id=line_id,
        channel=channel,
        txn_id=txn or f"T{line_id}",
        amount=amount,
        kind=kind,
        status=status,
        paid_at=paid_at,
        day=day,
        order_ref=order_ref,
        hint=hint,
        refund_of=refund_of,
        text=text,
        **extra,
    )


def given(
    dossiers: list[Dossier],
    lines: list[Line],
    pulled: set[tuple[str, date]] | None = None,
    **extra: Any,
) -> EngineInput:
    return EngineInput(
        dossiers=tuple(dossiers),
        lines=tuple(lines),
        pulled=frozenset(pulled or set()),
        **extra,
    )


def days(channel: str, first: date, count: int) -> set[tuple[str, date]]:
    return {(channel, first + timedelta(days=n)) for n in range(count)}
