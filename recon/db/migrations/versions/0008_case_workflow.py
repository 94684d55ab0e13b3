"""the case workflow: history events in DESIGN 4's shape, pending write-offs, `linked` matches

`case_events` takes DESIGN's names: `status_before`/`status_after` become `from_status`/
`to_status`, and `resolution`, `dossier_code` join them; `actor` is null for the engine (every
event stored before was the engine's, as "engine"); `changes` stays, with the amounts a run
records. Nothing stored is lost. The table stays append-only: its triggers are dropped for the
change (SQLite rebuilds the table, which drops them; PostgreSQL's would refuse the UPDATE of
`actor`) and made again.

`cases` gains the pending write-off (what, who asked, when) as plain added columns: rebuilding
`cases` on SQLite would fail on a database with events and lines pointing at it. `matches`
accepts the rule `linked` (a line a person linked to its dossier).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import recon.db.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

RULES = "rule IN ('linked', 'payment_ref', 'dossier_code', 'text', 'refund')"
OLD_RULES = "rule IN ('payment_ref', 'dossier_code', 'text', 'refund')"
ACTIONS = "action IN ('resolve', 'approve', 'reject', 'reopen', 'opened', 'updated', 'closed')"
PENDING = "pending_resolution IS NULL OR pending_resolution = 'written_off'"


def _drop_append_only_triggers() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for action in ("update", "delete"):
        on = " ON case_events" if postgresql else ""
        op.execute(f"DROP TRIGGER IF EXISTS case_events_no_{action}{on}")


def _create_append_only_triggers() -> None:
    """As 0001 made them: the function `recon_append_only()` of PostgreSQL is still there."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    for action in ("UPDATE", "DELETE"):
        name = f"case_events_no_{action.lower()}"
        if postgresql:
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {action} ON case_events "
                "FOR EACH ROW EXECUTE FUNCTION recon_append_only()"
            )
        else:
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {action} ON case_events "
                "BEGIN SELECT RAISE(ABORT, 'case_events is append-only'); END"
            )


def upgrade() -> None:
    _drop_append_only_triggers()
    with op.batch_alter_table("case_events") as batch_op:
        batch_op.alter_column("status_before", new_column_name="from_status")
        batch_op.alter_column("status_after", new_column_name="to_status")
        batch_op.alter_column("actor", existing_type=sa.String(length=128), nullable=True)
        batch_op.add_column(sa.Column("resolution", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("dossier_code", sa.String(length=64), nullable=True))
        batch_op.create_check_constraint(op.f("ck_case_events_action"), sa.text(ACTIONS))
    events = sa.table("case_events", sa.column("actor"))
    op.execute(sa.update(events).where(events.c.actor == "engine").values(actor=None))
    _create_append_only_triggers()

    if op.get_bind().dialect.name == "sqlite":
        # ADD COLUMN, never a rebuild (see above); SQLite takes the CHECK on the column
        op.execute(
            "ALTER TABLE cases ADD COLUMN pending_resolution VARCHAR(32) "
            f"CONSTRAINT ck_cases_pending_resolution CHECK ({PENDING})"
        )
    else:
        op.add_column("cases", sa.Column("pending_resolution", sa.String(length=32)))
        op.create_check_constraint(op.f("ck_cases_pending_resolution"), "cases", sa.text(PENDING))
    op.add_column("cases", sa.Column("pending_by", sa.String(length=64), nullable=True))
    op.add_column(
        "cases",
        sa.Column("pending_at", recon.db.types.UTCDateTime(timezone=True), nullable=True),
    )

    with op.batch_alter_table("matches") as batch_op:
        batch_op.drop_constraint(op.f("ck_matches_rule"), type_="check")
        batch_op.create_check_constraint(op.f("ck_matches_rule"), sa.text(RULES))


def downgrade() -> None:
    # a linked line goes back to owner-less: the next run resolves it by rules 1-3
    matches = sa.table("matches", sa.column("line_id"), sa.column("rule"))
    lines = sa.table("statement_lines", sa.column("id"), sa.column("matched"))
    linked = sa.select(matches.c.line_id).where(matches.c.rule == "linked")
    op.execute(sa.update(lines).where(lines.c.id.in_(linked)).values(matched=False))
    op.execute(sa.delete(matches).where(matches.c.rule == "linked"))
    with op.batch_alter_table("matches") as batch_op:
        batch_op.drop_constraint(op.f("ck_matches_rule"), type_="check")
        batch_op.create_check_constraint(op.f("ck_matches_rule"), sa.text(OLD_RULES))

    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("ck_cases_pending_resolution"), "cases", type_="check")
    for column in ("pending_at", "pending_by", "pending_resolution"):
        op.drop_column("cases", column)

    _drop_append_only_triggers()
    events = sa.table("case_events", sa.column("actor"))
    op.execute(sa.update(events).where(events.c.actor.is_(None)).values(actor="engine"))
    with op.batch_alter_table("case_events") as batch_op:
        batch_op.drop_constraint(op.f("ck_case_events_action"), type_="check")
        batch_op.drop_column("dossier_code")
        batch_op.drop_column("resolution")
        batch_op.alter_column("actor", existing_type=sa.String(length=128), nullable=False)
        batch_op.alter_column("to_status", new_column_name="status_after")
        batch_op.alter_column("from_status", new_column_name="status_before")
    _create_append_only_triggers()
