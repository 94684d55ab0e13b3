"""What the engine takes and gives: msgspec Structs, no database, no HTTP (DESIGN 3, 4)."""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from recon.vocab import CaseType, DossierState, LineKind, LineStatus


class Dossier(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    code: str
    code_key: str  # normalised (DESIGN 3)
    fee: int
    state: DossierState
    ref_keys: tuple[str, ...] = ()  # payment refs, upper-cased and trimmed
    claim_channel: str | None = None
    claim_day: date | None = None
    claim_txn_id: str | None = None


class Line(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    channel: str
    txn_id: str
    amount: int
    kind: LineKind
    status: LineStatus
    paid_at: datetime
    day: date
    order_ref: str | None = None
    hint: str | None = None  # a dossier code the channel itself names
    refund_of: str | None = None
    text: str = ""  # the description searched by rule 3 (with order_ref)
    fee: int = 0
    # resolved by an earlier run and not re-judged now: the engine keeps this resolution
    fixed_dossier_id: int | None = None
    fixed: bool = False
    # the dossier a person linked the line to (a case resolved `linked`, DESIGN 4): it goes
    # there ahead of rules 1-3, as long as that dossier is among the engine's dossiers
    linked_to: int | None = None


class ControlMismatch(msgspec.Struct, frozen=True, kw_only=True):
    channel: str
    day: date
    expected_count: int | None
    expected_amount: int | None
    received_count: int | None
    received_amount: int | None


class EngineInput(msgspec.Struct, frozen=True, kw_only=True):
    dossiers: tuple[Dossier, ...]
    lines: tuple[Line, ...]
    # channel-days whose statement is in: pulled successfully, or (file-fed) reconciled
    pulled: frozenset[tuple[str, date]] = frozenset()
    mismatches: tuple[ControlMismatch, ...] = ()
    # what to judge; None = everything given. The caller guarantees that every line of a
    # judged dossier is among `lines`.
    judge_dossier_ids: frozenset[int] | None = None
    judge_line_ids: frozenset[int] | None = None
    # with judge_dossier_ids: judge as well every dossier a line that is not fixed resolves
    # to now (a run's caller then need not resolve the lines itself to know them)
    judge_owners: bool = False
    # channels whose statement could not be got in this run: every judgement that rests on
    # one of them waits (see `EngineOutput.held_*`), so missing data neither opens nor closes
    waiting: frozenset[str] = frozenset()


class Resolution(msgspec.Struct, frozen=True, kw_only=True):
    """Where a line goes, and why: the rule and the fields that decided it."""

    line_id: int
    dossier_id: int | None
    rule: str | None  # linked | payment_ref | dossier_code | text | refund | None
    fields: dict[str, str] = msgspec.field(default_factory=dict)
    ambiguous: tuple[int, ...] = ()  # the dossiers a text named, when more than one
    refunds_line_id: int | None = None  # a refund: the payment it nets against


class CaseOut(msgspec.Struct, frozen=True, kw_only=True):
    identity: str
    type: CaseType
    day: date
    channel: str | None
    dossier_id: int | None
    line_ids: tuple[int, ...]
    expected: int | None
    actual: int | None
    rule: str
    explanation: str


class EngineOutput(msgspec.Struct, frozen=True, kw_only=True):
    resolutions: tuple[Resolution, ...]  # every line that is not fixed, by line id
    cases: tuple[CaseOut, ...]  # by identity
    nets: dict[int, int]  # judged dossier id -> net
    # not judged now because they rest on a waiting channel: the dossiers with a line or a
    # claim on one, and the lines on one or owned by such a dossier. Their cases stand as
    # they are; resolutions are still given (where a line goes needs no statement).
    held_dossier_ids: frozenset[int] = frozenset()
    held_line_ids: frozenset[int] = frozenset()
