"""Notifications can be withdrawn by staff (console): when and by whom.

Revision ID: 20261201_withdrawal
Revises: 20261201_alerts
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261201_withdrawal"
down_revision: str | None = "20261201_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("notifications", sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("notifications", sa.Column("withdrawn_by", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_notifications_withdrawn_by_users"),
        "notifications",
        "users",
        ["withdrawn_by"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("fk_notifications_withdrawn_by_users"), "notifications", type_="foreignkey")
    op.drop_column("notifications", "withdrawn_by")
    op.drop_column("notifications", "withdrawn_at")
