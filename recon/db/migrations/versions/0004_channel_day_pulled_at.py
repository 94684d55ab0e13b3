"""a channel-day remembers its latest successful pull, which a later failed pull never erases

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import recon.db.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "channel_days",
        sa.Column("pulled_at", recon.db.types.UTCDateTime(timezone=True), nullable=True),
    )
    # every channel-day that ever had a successful pull was pulled, whatever came after: the
    # fetch records still say when (a failed re-pull used to hide it behind `fetch_status`)
    days = sa.table(
        "channel_days", sa.column("channel"), sa.column("business_day"), sa.column("pulled_at")
    )
    fetches = sa.table(
        "channel_fetches",
        sa.column("channel"),
        sa.column("business_day"),
        sa.column("source"),
        sa.column("status"),
        sa.column("finished_at"),
    )
    latest = (
        sa.select(sa.func.max(fetches.c.finished_at))
        .where(
            fetches.c.channel == days.c.channel,
            fetches.c.business_day == days.c.business_day,
            fetches.c.source == "pull",
            fetches.c.status == "succeeded",
        )
        .scalar_subquery()
    )
    op.execute(sa.update(days).values(pulled_at=latest))


def downgrade() -> None:
    op.drop_column("channel_days", "pulled_at")
