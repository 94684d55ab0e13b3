"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import recon.db.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=500), nullable=False),
        sa.Column("created_at", recon.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", recon.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", recon.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_id", name=op.f("uq_api_keys_key_id")),
    )
    op.create_table(
        "dossiers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dossier_code", sa.String(length=64), nullable=False),
        sa.Column("code_key", sa.String(length=64), nullable=False),
        sa.Column("procedure_code", sa.String(length=64), nullable=False),
        sa.Column("procedure_name", sa.String(length=500), nullable=False),
        sa.Column("applicant", sa.String(length=300), nullable=False),
        sa.Column("fee_amount", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", recon.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_paid_channel", sa.String(length=32), nullable=True),
        sa.Column("claimed_paid_at", recon.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_paid_day", sa.Date(), nullable=True),
        sa.Column("claimed_channel_txn_id", sa.String(length=128), nullable=True),
        sa.Column("created_at", recon.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", recon.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('received', 'processing', 'completed', 'cancelled', 'rejected')",
            name=op.f("ck_dossiers_state"),
        ),
        sa.CheckConstraint(
            "(claimed_paid_channel IS NULL) = (claimed_paid_at IS NULL)",
            name=op.f("ck_dossiers_claim_complete"),
        ),
        sa.CheckConstraint(
            "fee_amount >= 0 AND fee_amount <= 1000000000000000",
            name=op.f("ck_dossiers_fee_amount"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossiers")),
        sa.UniqueConstraint("code_key", name=op.f("uq_dossiers_code_key")),
    )
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dossiers_claimed_paid_day"), ["claimed_paid_day"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_dossiers_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("started_at", recon.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", recon.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("cases_opened", sa.Integer(), nullable=False),
        sa.Column("cases_closed", sa.Integer(), nullable=False),
        sa.Column("cases_open", sa.Integer(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'partial', 'failed')", name=op.f("ck_runs_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_runs_business_day"), ["business_day"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", recon.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", recon.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('accountant', 'approver', 'viewer', 'admin')", name=op.f("ck_users_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("identity", sa.String(length=300), nullable=False),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column(
            "dossier_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("expected_amount", sa.BigInteger(), nullable=True),
        sa.Column("actual_amount", sa.BigInteger(), nullable=True),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("resolution", sa.String(length=32), nullable=True),
        sa.Column(
            "linked_dossier_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column(
            "opened_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "updated_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", recon.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", recon.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "resolution IS NULL OR resolution IN ('linked', 'accepted', 'refund_requested', 'written_off', 'channel_dispute')",
            name=op.f("ck_cases_resolution"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'reopened', 'resolved', 'closed')", name=op.f("ck_cases_status")
        ),
        sa.CheckConstraint(
            "type IN ('UNDERPAID', 'OVERPAID', 'DUPLICATE_PAYMENT', 'PAYMENT_ON_CLOSED_DOSSIER', 'UNMATCHED_PAYMENT', 'AMBIGUOUS_REFERENCE', 'UNMATCHED_REFUND', 'MISSING_IN_STATEMENT', 'STATUS_CONFLICT', 'CONTROL_TOTAL_MISMATCH')",
            name=op.f("ck_cases_type"),
        ),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name=op.f("fk_cases_dossier_id_dossiers")
        ),
        sa.ForeignKeyConstraint(
            ["linked_dossier_id"], ["dossiers.id"], name=op.f("fk_cases_linked_dossier_id_dossiers")
        ),
        sa.ForeignKeyConstraint(
            ["opened_run_id"], ["runs.id"], name=op.f("fk_cases_opened_run_id_runs")
        ),
        sa.ForeignKeyConstraint(
            ["updated_run_id"], ["runs.id"], name=op.f("fk_cases_updated_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cases_dossier_id"), ["dossier_id"], unique=False)
        batch_op.create_index(
            "ix_cases_status_day_channel", ["status", "business_day", "channel"], unique=False
        )
        batch_op.create_index(
            "uq_cases_identity_not_closed",
            ["identity"],
            unique=True,
            sqlite_where=sa.text("status <> 'closed'"),
            postgresql_where=sa.text("status <> 'closed'"),
        )

    op.create_table(
        "channel_fetches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("business_day", sa.Date(), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", recon.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", recon.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("inserted", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("control_count", sa.Integer(), nullable=True),
        sa.Column("control_amount", sa.BigInteger(), nullable=True),
        sa.Column("received_count", sa.Integer(), nullable=True),
        sa.Column("received_amount", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("file_name", sa.String(length=300), nullable=True),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.CheckConstraint("source IN ('pull', 'import')", name=op.f("ck_channel_fetches_source")),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed')", name=op.f("ck_channel_fetches_status")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_channel_fetches_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_fetches")),
    )
    with op.batch_alter_table("channel_fetches", schema=None) as batch_op:
        batch_op.create_index(
            "ix_channel_fetches_channel_day", ["channel", "business_day"], unique=False
        )

    op.create_table(
        "day_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", recon.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.CheckConstraint("action IN ('close', 'reopen')", name=op.f("ck_day_events_action")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_day_events_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_day_events")),
    )
    with op.batch_alter_table("day_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_day_events_business_day"), ["business_day"], unique=False
        )

    op.create_table(
        "dossier_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "dossier_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("changed_at", recon.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("fee_before", sa.BigInteger(), nullable=True),
        sa.Column("fee_after", sa.BigInteger(), nullable=False),
        sa.Column("state_before", sa.String(length=16), nullable=True),
        sa.Column("state_after", sa.String(length=16), nullable=False),
        sa.Column("changed_fields", sa.String(length=500), nullable=False),
        sa.CheckConstraint(
            "fee_after >= 0 AND (fee_before IS NULL OR fee_before >= 0)",
            name=op.f("ck_dossier_history_fee"),
        ),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name=op.f("fk_dossier_history_dossier_id_dossiers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_history")),
    )
    with op.batch_alter_table("dossier_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dossier_history_dossier_id"), ["dossier_id"], unique=False
        )

    op.create_table(
        "dossier_payment_refs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "dossier_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("ref", sa.String(length=128), nullable=False),
        sa.Column("ref_key", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_dossier_payment_refs_dossier_id_dossiers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_payment_refs")),
        sa.UniqueConstraint("ref_key", name=op.f("uq_dossier_payment_refs_ref_key")),
    )
    with op.batch_alter_table("dossier_payment_refs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dossier_payment_refs_dossier_id"), ["dossier_id"], unique=False
        )

    op.create_table(
        "ledger_days",
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("closed_at", recon.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_ledger_days_status")),
        sa.ForeignKeyConstraint(
            ["closed_by"], ["users.id"], name=op.f("fk_ledger_days_closed_by_users")
        ),
        sa.PrimaryKeyConstraint("business_day", name=op.f("pk_ledger_days")),
    )
    op.create_table(
        "run_leases",
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", recon.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", recon.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_leases_run_id_runs")),
        sa.PrimaryKeyConstraint("business_day", name=op.f("pk_run_leases")),
    )
    op.create_table(
        "case_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", recon.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("status_before", sa.String(length=16), nullable=True),
        sa.Column("status_after", sa.String(length=16), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases")
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_case_events_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_events_case_id"), ["case_id"], unique=False)

    op.create_table(
        "channel_days",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("fetch_status", sa.String(length=16), nullable=True),
        sa.Column(
            "last_fetch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("fetched_at", recon.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reconciled_at", recon.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "last_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.CheckConstraint(
            "fetch_status IS NULL OR fetch_status IN ('succeeded', 'failed')",
            name=op.f("ck_channel_days_fetch_status"),
        ),
        sa.ForeignKeyConstraint(
            ["last_fetch_id"],
            ["channel_fetches.id"],
            name=op.f("fk_channel_days_last_fetch_id_channel_fetches"),
        ),
        sa.ForeignKeyConstraint(
            ["last_run_id"], ["runs.id"], name=op.f("fk_channel_days_last_run_id_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_days")),
        sa.UniqueConstraint("channel", "business_day", name="uq_channel_days_channel_day"),
    )
    with op.batch_alter_table("channel_days", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_channel_days_business_day"), ["business_day"], unique=False
        )

    op.create_table(
        "statement_lines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("channel_txn_id", sa.String(length=128), nullable=False),
        sa.Column("order_ref", sa.String(length=128), nullable=True),
        sa.Column("order_ref_key", sa.String(length=128), nullable=True),
        sa.Column("dossier_hint", sa.String(length=128), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("refund_of", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paid_at", recon.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("business_day", sa.Date(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("payer", sa.String(length=64), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("fetch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("first_seen_at", recon.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", recon.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('payment', 'refund', 'settlement')", name=op.f("ck_statement_lines_kind")
        ),
        sa.CheckConstraint(
            "status IN ('success', 'failed', 'pending', 'reversed')",
            name=op.f("ck_statement_lines_status"),
        ),
        sa.CheckConstraint(
            "amount > 0 AND amount <= 1000000000000000", name=op.f("ck_statement_lines_amount")
        ),
        sa.CheckConstraint(
            "fee >= 0 AND fee <= 1000000000000000", name=op.f("ck_statement_lines_fee")
        ),
        sa.ForeignKeyConstraint(
            ["fetch_id"],
            ["channel_fetches.id"],
            name=op.f("fk_statement_lines_fetch_id_channel_fetches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_lines")),
        sa.UniqueConstraint("channel", "channel_txn_id", name="uq_statement_lines_channel_txn"),
    )
    with op.batch_alter_table("statement_lines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_statement_lines_day_channel", ["business_day", "channel"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_statement_lines_order_ref_key"), ["order_ref_key"], unique=False
        )

    op.create_table(
        "case_lines",
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_lines_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["statement_lines.id"], name=op.f("fk_case_lines_line_id_statement_lines")
        ),
        sa.PrimaryKeyConstraint("case_id", "line_id", name=op.f("pk_case_lines")),
    )
    with op.batch_alter_table("case_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_lines_line_id"), ["line_id"], unique=False)

    op.create_table(
        "line_status_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("changed_at", recon.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status_before", sa.String(length=16), nullable=False),
        sa.Column("status_after", sa.String(length=16), nullable=False),
        sa.Column("fetch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["fetch_id"],
            ["channel_fetches.id"],
            name=op.f("fk_line_status_changes_fetch_id_channel_fetches"),
        ),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["statement_lines.id"],
            name=op.f("fk_line_status_changes_line_id_statement_lines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_status_changes")),
    )
    with op.batch_alter_table("line_status_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_line_status_changes_line_id"), ["line_id"], unique=False
        )

    op.create_table(
        "matches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "dossier_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("matched_at", recon.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "rule IN ('payment_ref', 'dossier_code', 'text', 'refund')",
            name=op.f("ck_matches_rule"),
        ),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name=op.f("fk_matches_dossier_id_dossiers")
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["statement_lines.id"], name=op.f("fk_matches_line_id_statement_lines")
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_matches_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matches")),
        sa.UniqueConstraint("line_id", name=op.f("uq_matches_line_id")),
    )
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_matches_dossier_id"), ["dossier_id"], unique=False)
    _append_only_triggers()


APPEND_ONLY_TABLES = ("case_events", "dossier_history", "day_events", "line_status_changes")


def _append_only_triggers() -> None:
    """Audit tables take INSERTs only: the database itself refuses UPDATE and DELETE."""
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION recon_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
        )
    for table in APPEND_ONLY_TABLES:
        for action in ("UPDATE", "DELETE"):
            name = f"{table}_no_{action.lower()}"
            if dialect == "postgresql":
                op.execute(
                    f"CREATE TRIGGER {name} BEFORE {action} ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION recon_append_only()"
                )
            else:
                op.execute(
                    f"CREATE TRIGGER {name} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY_TABLES:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS recon_append_only()")
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_matches_dossier_id"))

    op.drop_table("matches")
    with op.batch_alter_table("line_status_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_line_status_changes_line_id"))

    op.drop_table("line_status_changes")
    with op.batch_alter_table("case_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_lines_line_id"))

    op.drop_table("case_lines")
    with op.batch_alter_table("statement_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_statement_lines_order_ref_key"))
        batch_op.drop_index("ix_statement_lines_day_channel")

    op.drop_table("statement_lines")
    with op.batch_alter_table("channel_days", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_days_business_day"))

    op.drop_table("channel_days")
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_events_case_id"))

    op.drop_table("case_events")
    op.drop_table("run_leases")
    op.drop_table("ledger_days")
    with op.batch_alter_table("dossier_payment_refs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dossier_payment_refs_dossier_id"))

    op.drop_table("dossier_payment_refs")
    with op.batch_alter_table("dossier_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dossier_history_dossier_id"))

    op.drop_table("dossier_history")
    with op.batch_alter_table("day_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_day_events_business_day"))

    op.drop_table("day_events")
    with op.batch_alter_table("channel_fetches", schema=None) as batch_op:
        batch_op.drop_index("ix_channel_fetches_channel_day")

    op.drop_table("channel_fetches")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_cases_identity_not_closed",
            sqlite_where=sa.text("status <> 'closed'"),
            postgresql_where=sa.text("status <> 'closed'"),
        )
        batch_op.drop_index("ix_cases_status_day_channel")
        batch_op.drop_index(batch_op.f("ix_cases_dossier_id"))

    op.drop_table("cases")
    op.drop_table("users")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_runs_business_day"))

    op.drop_table("runs")
    with op.batch_alter_table("dossiers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dossiers_updated_at"))
        batch_op.drop_index(batch_op.f("ix_dossiers_claimed_paid_day"))

    op.drop_table("dossiers")
    op.drop_table("api_keys")
