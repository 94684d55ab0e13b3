"""The case shapes of DESIGN 6 (CLI) and of the cases API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from recon.schemas import Out

STATUS_FILTERS = ("open", "resolved", "closed", "all")


class CaseSummary(Out):
    id: int
    type: str
    status: str
    date: date
    channel: str | None
    dossier_code: str | None
    expected_amount: int | None
    actual_amount: int | None
    channel_txn_ids: list[str]
    explanation: str


class CaseLineOut(Out):
    channel: str
    channel_txn_id: str
    kind: str
    status: str
    amount: int
    fee: int
    paid_at: datetime
    business_day: date
    order_ref: str | None
    description: str
    payer: str | None


class CaseEventOut(Out):
    at: datetime
    actor: str
    action: str
    status_before: str | None
    status_after: str
    changes: dict[str, Any]
    note: str


class CaseDetail(CaseSummary):
    rule: str
    resolution: str | None
    close_reason: str | None
    created_at: datetime
    updated_at: datetime
    dossier: dict[str, Any] | None
    lines: list[CaseLineOut]
    history: list[CaseEventOut]


class CasePage(Out):
    cases: list[CaseSummary]
    total: int
    counts_by_type: dict[str, int]
    next_cursor: int | None
