"""Alerts the customer sets: a monthly kWh or FCFA threshold per meter, and the alerts sent (once
per user, meter and month).

Create Date: 2026-12-01

Revision ID: 20261201_alerts
Revises: 20261201_outages
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261201_alerts"
down_revision: str | None = "20261201_outages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

METRIC = sa.Enum("kwh", "amount", name="alert_metric", native_enum=False, length=8)


def upgrade() -> None:
    op.create_table(
        "consumption_alerts",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("meter_id", sa.Uuid(), nullable=False),
        sa.Column("metric", METRIC, nullable=False),
        sa.Column("threshold", sa.Numeric(14, 2), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["meter_id"],
            ["meters.id"],
            name=op.f("fk_consumption_alerts_meter_id_meters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_consumption_alerts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consumption_alerts")),
        sa.UniqueConstraint("user_id", "meter_id", name=op.f("uq_consumption_alerts_user_id_meter_id")),
    )
    op.create_table(
        "consumption_alerts_sent",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("meter_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("metric", METRIC, nullable=False),
        sa.Column("threshold", sa.Numeric(14, 2), nullable=False),
        sa.Column("value", sa.Numeric(14, 2), nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meter_id"],
            ["meters.id"],
            name=op.f("fk_consumption_alerts_sent_meter_id_meters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_consumption_alerts_sent_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consumption_alerts_sent")),
        sa.UniqueConstraint(
            "user_id", "meter_id", "month", name=op.f("uq_consumption_alerts_sent_user_id_meter_id_month")
        ),
    )


def downgrade() -> None:
    op.drop_table("consumption_alerts_sent")
    op.drop_table("consumption_alerts")
