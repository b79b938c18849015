"""Meter access requests remember when the owner was told, so removing and re-adding a meter does
not push the owner again within the cool-down (issue 12, people used as targets).

Revision ID: 20261201_request_notified
Revises: 20261201_withdrawal
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261201_request_notified"
down_revision: str | None = "20261201_withdrawal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("meter_links", sa.Column("owner_notified_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("meter_links", "owner_notified_at")
