"""the payment API finds a line by the dossier code the channel names, before any run matched it

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("statement_lines") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_statement_lines_dossier_hint"), ["dossier_hint"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("statement_lines") as batch_op:
        batch_op.drop_index(batch_op.f("ix_statement_lines_dossier_hint"))
