"""The ledger's shape (DESIGN 5 and 6): a row per day × channel, totals per channel and for all."""

from __future__ import annotations

from datetime import date

import msgspec

from recon.schemas import Out

FIGURES = (
    "payments_count",
    "payments_amount",
    "refunds_count",
    "refunds_amount",
    "fees",
    "net",
    "matched_count",
    "matched_amount",
    "unmatched_count",
    "unmatched_amount",
)


class LedgerFigures(Out):
    """Counts and int VND. `net` = payments − refunds − fees, and may be negative."""

    payments_count: int = 0
    payments_amount: int = 0
    refunds_count: int = 0
    refunds_amount: int = 0
    fees: int = 0
    net: int = 0
    matched_count: int = 0
    matched_amount: int = 0
    unmatched_count: int = 0
    unmatched_amount: int = 0
    open_cases: dict[str, int] = msgspec.field(default_factory=dict)

    def add(self, other: LedgerFigures) -> None:
        for name in FIGURES:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for case_type, count in other.open_cases.items():
            self.open_cases[case_type] = self.open_cases.get(case_type, 0) + count
        self.open_cases = dict(sorted(self.open_cases.items()))


class LedgerRow(LedgerFigures, kw_only=True):
    date: date
    channel: str
    # true when the day is closed: these figures are the snapshot taken at closing
    closed: bool = False


class Ledger(Out):
    from_: date = msgspec.field(name="from")
    to: date
    rows: list[LedgerRow]
    totals: dict[str, LedgerFigures]  # per channel, and "all"
