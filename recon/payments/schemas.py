"""The payment object and the batch query at our boundary (DESIGN 6)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from recon.schemas import In, Out

PaymentStatus = Literal[
    "UNPAID", "PENDING", "PAID", "PARTIALLY_PAID", "OVERPAID", "REFUNDED", "DISPUTED", "EXEMPT"
]
MAX_CODES = 1000


class TransactionOut(Out):
    """A line of the dossier, whatever its status; never the payer."""

    channel: str
    channel_txn_id: str
    kind: str  # payment, refund
    status: str  # success, pending, failed, reversed
    amount: int  # VND
    paid_at: datetime


class PaymentOut(Out):
    dossier_code: str
    status: PaymentStatus
    fee_amount: int  # VND
    paid_amount: int  # the net: successful payments minus successful refunds, VND
    channel: str | None  # of the latest successful line; null without one
    transactions: list[TransactionOut]
    reconciled: bool  # no line of the dossier lies on a day not yet reconciled
    last_reconciled_at: datetime | None


class PaymentQueryIn(In):
    dossier_codes: Annotated[list[str], msgspec.Meta(min_length=1, max_length=MAX_CODES)]


class PaymentsOut(Out):
    payments: list[PaymentOut]  # in the order asked, each dossier once
    unknown: list[str]  # the codes asked for that name no dossier, as given
