"""Every status and kind the service knows, in one place: the words of DESIGN 1, 4 and 6.

Each vocabulary is a `Literal` type (for the code) and a tuple of its values in order (for the
database's CHECK constraints, validation messages and the OpenAPI enums); where both exist the
tuple is read from the type (`get_args`), so the two cannot drift apart. A pure module: the
engine, the adapters (through `recon.domain`) and the database models all read it.
"""

from __future__ import annotations

from typing import Literal, get_args

# statement lines (DESIGN 1, 2.3)
LineKind = Literal["payment", "refund", "settlement"]
LineStatus = Literal["success", "failed", "pending", "reversed"]
LINE_KINDS: tuple[LineKind, ...] = get_args(LineKind)
LINE_STATUSES: tuple[LineStatus, ...] = get_args(LineStatus)

# dossiers (DESIGN 1)
DossierState = Literal["received", "processing", "completed", "cancelled", "rejected"]
DOSSIER_STATES: tuple[DossierState, ...] = get_args(DossierState)

# cases (DESIGN 4): their types, the ones about a dossier's money and the ones about one line
CaseType = Literal[
    "UNDERPAID",
    "OVERPAID",
    "DUPLICATE_PAYMENT",
    "PAYMENT_ON_CLOSED_DOSSIER",
    "UNMATCHED_PAYMENT",
    "AMBIGUOUS_REFERENCE",
    "UNMATCHED_REFUND",
    "MISSING_IN_STATEMENT",
    "STATUS_CONFLICT",
    "CONTROL_TOTAL_MISMATCH",
]
CASE_TYPES: tuple[CaseType, ...] = get_args(CaseType)
MONEY_CASE_TYPES: tuple[CaseType, ...] = (
    "PAYMENT_ON_CLOSED_DOSSIER",
    "DUPLICATE_PAYMENT",
    "OVERPAID",
    "UNDERPAID",
)
LINE_CASE_TYPES: tuple[CaseType, ...] = (
    "UNMATCHED_PAYMENT",
    "AMBIGUOUS_REFERENCE",
    "UNMATCHED_REFUND",
    "STATUS_CONFLICT",
)

# case states: open and reopened are live (they count as open everywhere)
CaseStatus = Literal["open", "reopened", "resolved", "closed"]
CASE_STATUSES: tuple[CaseStatus, ...] = get_args(CaseStatus)
LIVE_CASE_STATUSES: tuple[CaseStatus, ...] = ("open", "reopened")
CaseResolution = Literal["linked", "accepted", "refund_requested", "written_off", "channel_dispute"]
CASE_RESOLUTIONS: tuple[CaseResolution, ...] = get_args(CaseResolution)
# what a person does to a case (DESIGN 4), and what the engine does to one in a run
CaseAction = Literal["resolve", "approve", "reject", "reopen"]
CASE_ACTIONS: tuple[CaseAction, ...] = get_args(CaseAction)
ENGINE_CASE_ACTIONS = ("opened", "updated", "closed")
# the case types a `linked` resolution applies to: money whose owner a person names
LINKABLE_CASE_TYPES: tuple[CaseType, ...] = ("UNMATCHED_PAYMENT", "AMBIGUOUS_REFERENCE")

# runs and statement fetches; a run's channel part (DESIGN 6)
# abandoned: the run's process died or was stopped, and its day was freed for another run
RunStatus = Literal["running", "succeeded", "partial", "failed", "abandoned"]
RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)
RunTrigger = Literal["manual", "nightly", "catch_up", "retry"]
RUN_TRIGGERS: tuple[RunTrigger, ...] = get_args(RunTrigger)
FetchStatus = Literal["running", "succeeded", "failed"]
FETCH_STATUSES: tuple[FetchStatus, ...] = get_args(FetchStatus)
FETCH_SOURCES = ("pull", "import")
ChannelOutcomeStatus = Literal["succeeded", "failed", "skipped"]

# what matched a line to a dossier; `linked`: a person did (a case resolved `linked`)
MATCH_RULES = ("linked", "payment_ref", "dossier_code", "text", "refund")

# ledger days and users
DAY_STATUSES = ("open", "closed")
DAY_ACTIONS = ("close", "reopen")
ROLES = ("accountant", "approver", "viewer", "admin")
