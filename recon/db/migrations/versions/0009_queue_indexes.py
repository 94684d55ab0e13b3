"""the case page's candidate dossiers: an index on a dossier's fee and submission time

An owner-less payment's page looks for dossiers of the same fee submitted within a month before
it (recon.cases.detail). Without this index that is a scan of every dossier: 70 ms at 300,000
dossiers on SQLite (bench/queue.py), where the page's goal is 100 ms.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dossiers") as batch_op:
        batch_op.create_index(
            "ix_dossiers_fee_submitted", ["fee_amount", "submitted_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("dossiers") as batch_op:
        batch_op.drop_index("ix_dossiers_fee_submitted")
