"""runs say what started them (manual, nightly, catch_up, retry) and may end `abandoned`

A run's process that died or was stopped leaves its run `abandoned` once its lease is taken
over. The triggers stored before (cli, demo) were all started by hand: `manual`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OLD_STATUSES = "status IN ('running', 'succeeded', 'partial', 'failed')"
STATUSES = "status IN ('running', 'succeeded', 'partial', 'failed', 'abandoned')"
TRIGGERS = "trigger IN ('manual', 'nightly', 'catch_up', 'retry')"


def upgrade() -> None:
    runs = sa.table("runs", sa.column("trigger"))
    op.execute(
        sa.update(runs)
        .where(runs.c.trigger.not_in(("manual", "nightly", "catch_up", "retry")))
        .values(trigger="manual")
    )
    with op.batch_alter_table("runs") as batch_op:
        batch_op.drop_constraint(op.f("ck_runs_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_runs_status"), sa.text(STATUSES))
        batch_op.create_check_constraint(op.f("ck_runs_trigger"), sa.text(TRIGGERS))


def downgrade() -> None:
    runs = sa.table("runs", sa.column("status"))
    op.execute(sa.update(runs).where(runs.c.status == "abandoned").values(status="failed"))
    with op.batch_alter_table("runs") as batch_op:
        batch_op.drop_constraint(op.f("ck_runs_trigger"), type_="check")
        batch_op.drop_constraint(op.f("ck_runs_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_runs_status"), sa.text(OLD_STATUSES))
