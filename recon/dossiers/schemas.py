"""The dossier's shapes at our boundary: strict in, plain out (DESIGN 2.5 and 6)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from recon.domain import MAX_AMOUNT
from recon.rows import ImportSummary as ImportSummary  # where bench/intake.py looks for it
from recon.schemas import In, Out

FeeAmount = Annotated[int, msgspec.Meta(ge=0, le=MAX_AMOUNT)]


class DossierIn(In):
    """One dossier as the one-stop system sends it. Decoded strictly: 1500.0 and "1500" fail."""

    dossier_code: str | None = None  # required in batches and files; PUT takes it from the path
    procedure_code: str
    procedure_name: str = ""
    applicant: str = ""
    fee_amount: FeeAmount
    state: str
    submitted_at: datetime
    payment_refs: list[str] = msgspec.field(default_factory=list)
    claimed_paid_channel: str | None = None
    claimed_paid_at: datetime | None = None
    claimed_channel_txn_id: str | None = None


# a dossier file's columns: DossierIn's fields, the claim's three optional
CSV_OPTIONAL = ("claimed_paid_channel", "claimed_paid_at", "claimed_channel_txn_id")
CSV_REQUIRED = tuple(name for name in DossierIn.__struct_fields__ if name not in CSV_OPTIONAL)


class DossierBatchIn(In):
    """Up to 10,000 dossiers, all or nothing."""

    dossiers: list[DossierIn]


class DossierRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A validated dossier, ready to store: trimmed, lowercase enums, UTC times."""

    dossier_code: str
    code_key: str
    procedure_code: str
    procedure_name: str
    applicant: str
    fee_amount: int
    state: str
    submitted_at: datetime
    payment_refs: tuple[str, ...]
    claimed_paid_channel: str | None
    claimed_paid_at: datetime | None
    claimed_channel_txn_id: str | None


class DossierOut(Out):
    dossier_code: str
    procedure_code: str
    procedure_name: str
    applicant: str
    fee_amount: int
    state: str
    submitted_at: datetime
    payment_refs: list[str]
    claimed_paid_channel: str | None
    claimed_paid_at: datetime | None
    claimed_channel_txn_id: str | None
    created_at: datetime
    updated_at: datetime
