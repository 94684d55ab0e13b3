"""each statement line carries whether it has a match; the ledger's index covers that bit

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# kind and matched right after day and channel: SQLite's GROUP BY business_day, channel, kind,
# matched then follows the index (no temporary B-tree); status is filtered inside the index
COLUMNS = ["business_day", "channel", "kind", "matched", "status", "amount", "fee"]
OLD_COLUMNS = ["business_day", "channel", "status", "kind", "amount", "fee"]


def upgrade() -> None:
    # a plain ADD COLUMN on both databases (no table copy on SQLite); the run that writes or
    # removes a line's match keeps the bit in step from now on
    op.add_column(
        "statement_lines",
        sa.Column("matched", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    lines = sa.table("statement_lines", sa.column("id"), sa.column("matched", sa.Boolean()))
    matches = sa.table("matches", sa.column("line_id"))
    op.execute(
        sa.update(lines)
        .where(lines.c.id.in_(sa.select(matches.c.line_id)))
        .values(matched=sa.true())
    )
    op.drop_index("ix_statement_lines_day_channel_totals", table_name="statement_lines")
    op.create_index("ix_statement_lines_day_channel_totals", "statement_lines", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_statement_lines_day_channel_totals", table_name="statement_lines")
    op.create_index("ix_statement_lines_day_channel_totals", "statement_lines", OLD_COLUMNS)
    op.drop_column("statement_lines", "matched")
