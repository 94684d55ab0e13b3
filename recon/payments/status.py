"""A dossier's payment status (DESIGN 8, "Statuses"): a pure reading of its lines, its fee and
state, and whether a case about it is live. No I/O: the service gathers, this decides.

In order:
- a live case on the dossier: `DISPUTED` (and no more once it is resolved or closed);
- money seen on a day not yet reconciled (a pull stored it, no run judged it yet), or only
  pending lines: `PENDING`;
- otherwise by the net (successful payments minus successful refunds) against the fee:
  no net money after a refund `REFUNDED` (a refund past the net too); no net money and fee 0
  `EXEMPT`, unless the dossier was cancelled or rejected; no net money `UNPAID`; below the fee
  `PARTIALLY_PAID`; the fee `PAID`; above it, or any money on a fee of 0, `OVERPAID`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import msgspec

from recon.matching.judge import net_of
from recon.vocab import LineKind, LineStatus

MONEY_KINDS = ("payment", "refund")
CLOSED_STATES = ("cancelled", "rejected")


class Txn(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a dossier, as the status reads it."""

    channel: str
    channel_txn_id: str
    kind: LineKind
    status: LineStatus
    amount: int
    paid_at: datetime
    day: date  # its business day
    reconciled: bool  # its channel-day has been reconciled


def payment_status(*, fee: int, state: str, txns: Sequence[Txn], live_case: bool) -> str:
    if live_case:
        return "DISPUTED"
    money = [t for t in txns if t.kind in MONEY_KINDS]
    if any(not t.reconciled and t.status in ("success", "pending") for t in money):
        return "PENDING"
    settled = [t for t in money if t.status == "success"]
    if not settled and any(t.status == "pending" for t in money):
        return "PENDING"
    net = net_of(settled)
    if net <= 0:
        if any(t.kind == "refund" for t in settled):
            return "REFUNDED"
        return "EXEMPT" if fee == 0 and state not in CLOSED_STATES else "UNPAID"
    if fee == 0 or net > fee:
        return "OVERPAID"
    return "PAID" if net == fee else "PARTIALLY_PAID"


def latest_channel(txns: Sequence[Txn]) -> str | None:
    """The channel of the latest successful money line, None without one."""
    settled = [t for t in txns if t.status == "success" and t.kind in MONEY_KINDS]
    if not settled:
        return None
    return max(settled, key=lambda t: (t.paid_at, t.channel, t.channel_txn_id)).channel
