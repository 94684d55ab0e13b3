"""a covering index for the ledger's aggregate

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = ["business_day", "channel", "status", "kind", "amount", "fee"]


def upgrade() -> None:
    # the ledger sums successful lines per day and channel: with every column it reads in the
    # index, the aggregate never touches the table's rows
    op.drop_index("ix_statement_lines_day_channel", table_name="statement_lines")
    op.create_index("ix_statement_lines_day_channel_totals", "statement_lines", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_statement_lines_day_channel_totals", table_name="statement_lines")
    op.create_index(
        "ix_statement_lines_day_channel", "statement_lines", ["business_day", "channel"]
    )
