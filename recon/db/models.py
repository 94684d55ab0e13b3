"""SQLAlchemy 2 typed models: one table per noun of DESIGN 1, 4, 5 and 6.

Money columns are BIGINT VND with CHECK constraints in the database itself; derived figures
(a day's net) are never stored as columns that could disagree with the lines.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from recon import vocab
from recon.db.base import MAX_MONEY, check_in
from recon.db.base import Base as Base  # where the migrations and tests look for it
from recon.db.types import BigId, UTCDateTime

# --- dossiers -----------------------------------------------------------------------------


class Dossier(Base):
    __tablename__ = "dossiers"
    __table_args__ = (
        CheckConstraint(f"fee_amount >= 0 AND fee_amount <= {MAX_MONEY}", name="fee_amount"),
        CheckConstraint(check_in("state", vocab.DOSSIER_STATES), name="state"),
        CheckConstraint(
            "(claimed_paid_channel IS NULL) = (claimed_paid_at IS NULL)", name="claim_complete"
        ),
        # the case page's candidates for an owner-less payment: same fee, submitted near it
        # (recon.cases.detail; migration 0009)
        Index("ix_dossiers_fee_submitted", "fee_amount", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dossier_code: Mapped[str] = mapped_column(String(64))
    # the code normalised as in DESIGN 3: two codes that normalise alike cannot both exist
    code_key: Mapped[str] = mapped_column(String(64), unique=True)
    procedure_code: Mapped[str] = mapped_column(String(64))
    procedure_name: Mapped[str] = mapped_column(String(500), default="")
    applicant: Mapped[str] = mapped_column(String(300), default="")
    fee_amount: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_paid_channel: Mapped[str | None] = mapped_column(String(32))
    claimed_paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_paid_day: Mapped[date | None] = mapped_column(Date, index=True)
    claimed_channel_txn_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class DossierPaymentRef(Base):
    __tablename__ = "dossier_payment_refs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(
        ForeignKey("dossiers.id", ondelete="CASCADE"), index=True
    )
    ref: Mapped[str] = mapped_column(String(128))
    # upper-cased and trimmed: an order id names one payment attempt of one dossier
    ref_key: Mapped[str] = mapped_column(String(128), unique=True)


class DossierHistory(Base):
    """Append-only: every creation and every change of fee or state."""

    __tablename__ = "dossier_history"
    __table_args__ = (
        CheckConstraint("fee_after >= 0 AND (fee_before IS NULL OR fee_before >= 0)", name="fee"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), index=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16))  # api, batch, import, demo
    actor: Mapped[str] = mapped_column(String(128))
    change: Mapped[str] = mapped_column(String(16))  # created, updated
    fee_before: Mapped[int | None] = mapped_column(BigInteger)
    fee_after: Mapped[int] = mapped_column(BigInteger)
    state_before: Mapped[str | None] = mapped_column(String(16))
    state_after: Mapped[str] = mapped_column(String(16))
    changed_fields: Mapped[str] = mapped_column(String(500), default="")


# --- statements ---------------------------------------------------------------------------


class ChannelFetch(Base):
    """One attempt to get one channel-day: a pull or a file import."""

    __tablename__ = "channel_fetches"
    __table_args__ = (
        CheckConstraint(check_in("status", vocab.FETCH_STATUSES), name="status"),
        CheckConstraint(check_in("source", vocab.FETCH_SOURCES), name="source"),
        Index("ix_channel_fetches_channel_day", "channel", "business_day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    business_day: Mapped[date | None] = mapped_column(Date)  # None for a multi-day file
    source: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lines: Mapped[int] = mapped_column(Integer, default=0)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    control_count: Mapped[int | None] = mapped_column(Integer)
    control_amount: Mapped[int | None] = mapped_column(BigInteger)
    received_count: Mapped[int | None] = mapped_column(Integer)
    received_amount: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
    file_name: Mapped[str | None] = mapped_column(String(300))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))


class ChannelDay(Base):
    """The current state of one channel's business day: pulled? reconciled?

    `fetch_status` is the latest fetch's outcome; `pulled_at` the latest successful pull's
    time, which a later failed pull never clears: what a good pull established stands."""

    __tablename__ = "channel_days"
    __table_args__ = (
        UniqueConstraint("channel", "business_day", name="uq_channel_days_channel_day"),
        CheckConstraint(
            "fetch_status IS NULL OR " + check_in("fetch_status", ("succeeded", "failed")),
            name="fetch_status",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    business_day: Mapped[date] = mapped_column(Date, index=True)
    fetch_status: Mapped[str | None] = mapped_column(String(16))
    last_fetch_id: Mapped[int | None] = mapped_column(ForeignKey("channel_fetches.id"))
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pulled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reconciled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))


class StatementLineRow(Base):
    __tablename__ = "statement_lines"
    __table_args__ = (
        UniqueConstraint("channel", "channel_txn_id", name="uq_statement_lines_channel_txn"),
        CheckConstraint(f"amount > 0 AND amount <= {MAX_MONEY}", name="amount"),
        CheckConstraint(f"fee >= 0 AND fee <= {MAX_MONEY}", name="fee"),
        CheckConstraint(check_in("kind", vocab.LINE_KINDS), name="kind"),
        CheckConstraint(check_in("status", vocab.LINE_STATUSES), name="status"),
        # covering the ledger's aggregate, in its GROUP BY order (migration 0003)
        Index(
            "ix_statement_lines_day_channel_totals",
            "business_day",
            "channel",
            "kind",
            "matched",
            "status",
            "amount",
            "fee",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    channel_txn_id: Mapped[str] = mapped_column(String(128))
    order_ref: Mapped[str | None] = mapped_column(String(128))
    order_ref_key: Mapped[str | None] = mapped_column(String(128), index=True)
    # the dossier code a channel names (portal maHoSo): found by the payment API before a run
    dossier_hint: Mapped[str | None] = mapped_column(String(128), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger, default=0)
    kind: Mapped[str] = mapped_column(String(16))
    refund_of: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime)
    business_day: Mapped[date] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text, default="")
    payer: Mapped[str | None] = mapped_column(String(64))  # masked
    raw: Mapped[str] = mapped_column(Text)  # the channel's payload for this line, JSON
    fetch_id: Mapped[int | None] = mapped_column(ForeignKey("channel_fetches.id"))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # whether a `matches` row holds this line; written with the match, read by the ledger
    matched: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class LineStatusChange(Base):
    """Append-only: a line seen again with a status that moved forward."""

    __tablename__ = "line_status_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("statement_lines.id"), index=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_before: Mapped[str] = mapped_column(String(16))
    status_after: Mapped[str] = mapped_column(String(16))
    fetch_id: Mapped[int | None] = mapped_column(ForeignKey("channel_fetches.id"))


# --- runs, matches, cases -----------------------------------------------------------------


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint(check_in("status", vocab.RUN_STATUSES), name="status"),
        CheckConstraint(check_in("trigger", vocab.RUN_TRIGGERS), name="trigger"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    business_day: Mapped[date] = mapped_column(Date, index=True)
    channel: Mapped[str | None] = mapped_column(String(32))  # None: every channel
    status: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(16))  # manual, nightly, catch_up, retry
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    cases_opened: Mapped[int] = mapped_column(Integer, default=0)
    cases_closed: Mapped[int] = mapped_column(Integer, default=0)
    cases_open: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[str] = mapped_column(Text, default="{}")  # the run's JSON (DESIGN 6)
    error: Mapped[str | None] = mapped_column(Text)


class RunLease(Base):
    """At most one run per business day at a time; an expired lease may be taken over."""

    __tablename__ = "run_leases"

    business_day: Mapped[date] = mapped_column(Date, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Match(Base):
    """The dossier a statement line currently resolves to, and why."""

    __tablename__ = "matches"
    __table_args__ = (CheckConstraint(check_in("rule", vocab.MATCH_RULES), name="rule"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("statement_lines.id"), unique=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), index=True)
    rule: Mapped[str] = mapped_column(String(16))
    fields: Mapped[str] = mapped_column(Text, default="{}")  # JSON: what decided it
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(check_in("type", vocab.CASE_TYPES), name="type"),
        CheckConstraint(check_in("status", vocab.CASE_STATUSES), name="status"),
        CheckConstraint(
            "resolution IS NULL OR " + check_in("resolution", vocab.CASE_RESOLUTIONS),
            name="resolution",
        ),
        CheckConstraint(
            "pending_resolution IS NULL OR pending_resolution = 'written_off'",
            name="pending_resolution",
        ),
        # one case per identity until the engine closes it
        Index(
            "uq_cases_identity_not_closed",
            "identity",
            unique=True,
            sqlite_where=text("status <> 'closed'"),
            postgresql_where=text("status <> 'closed'"),
        ),
        Index("ix_cases_status_day_channel", "status", "business_day", "channel"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    identity: Mapped[str] = mapped_column(String(300))
    business_day: Mapped[date] = mapped_column(Date)
    channel: Mapped[str | None] = mapped_column(String(32))
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id"), index=True)
    expected_amount: Mapped[int | None] = mapped_column(BigInteger)
    actual_amount: Mapped[int | None] = mapped_column(BigInteger)
    rule: Mapped[str] = mapped_column(String(64))
    explanation: Mapped[str] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(String(32))
    # while the case is resolved `linked`, its line belongs to this dossier in every run
    linked_dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id"))
    # a write-off above the threshold waiting for an approver (DESIGN 4): who asked, and when;
    # the asker is a username, as in the history, so the approver is never the same account
    pending_resolution: Mapped[str | None] = mapped_column(String(32))
    pending_by: Mapped[str | None] = mapped_column(String(64))
    pending_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_reason: Mapped[str | None] = mapped_column(Text)
    opened_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    updated_run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseLine(Base):
    __tablename__ = "case_lines"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    line_id: Mapped[int] = mapped_column(
        ForeignKey("statement_lines.id"), primary_key=True, index=True
    )


class CaseEvent(Base):
    """The append-only audit log of every case action (database triggers forbid changes): a
    person's `resolve`, `approve`, `reject`, `reopen`, and a run's `opened`, `updated`,
    `closed` (DESIGN 4's history event; `changes` keeps what the engine changed, amounts too)."""

    __tablename__ = "case_events"
    __table_args__ = (
        CheckConstraint(
            check_in("action", (*vocab.CASE_ACTIONS, *vocab.ENGINE_CASE_ACTIONS)), name="action"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str | None] = mapped_column(String(128))  # a username; None: the engine
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    resolution: Mapped[str | None] = mapped_column(String(32))
    dossier_code: Mapped[str | None] = mapped_column(String(64))
    changes: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    note: Mapped[str] = mapped_column(Text, default="")
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))


# --- ledger days --------------------------------------------------------------------------


class LedgerDay(Base):
    """A business day's close state ("chốt sổ") and, once closed, its frozen figures."""

    __tablename__ = "ledger_days"
    __table_args__ = (CheckConstraint(check_in("status", vocab.DAY_STATUSES), name="status"),)

    business_day: Mapped[date] = mapped_column(Date, primary_key=True)
    status: Mapped[str] = mapped_column(String(8))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    snapshot: Mapped[str | None] = mapped_column(Text)  # JSON ledger rows frozen at close


class DayEvent(Base):
    """Append-only: who closed or reopened which day, when, and why."""

    __tablename__ = "day_events"
    __table_args__ = (CheckConstraint(check_in("action", vocab.DAY_ACTIONS), name="action"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    business_day: Mapped[date] = mapped_column(Date, index=True)
    action: Mapped[str] = mapped_column(String(8))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(Text)


# --- people and services ------------------------------------------------------------------


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(check_in("role", vocab.ROLES), name="role"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    key_id: Mapped[str] = mapped_column(String(32), unique=True)  # public part of the key
    key_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the whole key, hex
    scopes: Mapped[str] = mapped_column(String(500))  # space-separated
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A signed-in browser (recon.web.sessions): the id is the SHA-256 of the cookie's token,
    so the table alone never lets anyone in."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the token, hex
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the absolute limit
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    address: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(300))


class LoginAttempt(Base):
    """One try at the login form, counted by the throttle per username and per address."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)


APPEND_ONLY_TABLES = ("case_events", "dossier_history", "day_events", "line_status_changes")


def table(model: type[Base]) -> Table:
    """The Core table of a model, for bulk `insert()` executemany without the ORM's overhead."""
    return Base.metadata.tables[model.__tablename__]
