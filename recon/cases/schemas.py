"""The case shapes of DESIGN 6 (CLI) and of the cases API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import msgspec

from recon.schemas import In, Out
from recon.vocab import CASE_RESOLUTIONS

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
    """One history event (DESIGN 4); `actor` null for the engine; `changes` what else changed
    (a run's amounts, a pending write-off's amount at stake)."""

    at: datetime
    actor: str | None
    action: str
    from_status: str | None
    to_status: str
    resolution: str | None
    dossier_code: str | None
    note: str
    changes: dict[str, Any]


class CaseDetail(CaseSummary):
    rule: str
    resolution: str | None
    pending_resolution: str | None
    pending_by: str | None  # who asked for the pending write-off: not who may approve it
    linked_dossier_code: str | None  # while resolved `linked`: the dossier the line belongs to
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


class CaseList(Out):
    """The cases a bulk action acted on, in the order named."""

    cases: list[CaseDetail]


# --- what acting on cases takes (DESIGN 6): decoded strictly, an unknown field refused --------

User = Annotated[
    str, msgspec.Meta(description="The account acting (its role is checked)", examples=["ketoan"])
]
Note = Annotated[str, msgspec.Meta(description="Why: required, not empty")]
Resolution = Annotated[
    str, msgspec.Meta(description="One of " + ", ".join(CASE_RESOLUTIONS), examples=["accepted"])
]
DossierCode = Annotated[
    str | None,
    msgspec.Meta(
        description="With `linked` only: the dossier the line belongs to",
        examples=["H17.25-241125-0042"],
    ),
]


class ResolveIn(In):
    user: User
    resolution: Resolution
    note: Note
    dossier_code: DossierCode = None


class BulkResolveIn(ResolveIn):
    ids: Annotated[list[int], msgspec.Meta(description="The cases, all resolved or none")]


class CaseActionIn(In):
    user: User
    note: Note
