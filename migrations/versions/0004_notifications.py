"""notifications tables (owned by the notifications domain; filled in by its issue).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_read_marks",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("read_all_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notification_read_marks_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_read_marks")),
    )
    op.create_table(
        "notifications",
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("title_fr", sa.String(length=200), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=False),
        sa.Column("body_fr", sa.String(length=2000), nullable=False),
        sa.Column("body_en", sa.String(length=2000), nullable=False),
        sa.Column(
            "data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("target_kind", sa.String(length=20), nullable=False),
        sa.Column("target_user_id", sa.Uuid(), nullable=True),
        sa.Column("target_meter_id", sa.Uuid(), nullable=True),
        sa.Column("target_agency_ids", postgresql.ARRAY(sa.Uuid()), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("fanout_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("targeted_devices", sa.Integer(), nullable=True),
        sa.Column("fanout_done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_notifications_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["target_meter_id"],
            ["meters.id"],
            name=op.f("fk_notifications_target_meter_id_meters"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["target_user_id"],
            ["users.id"],
            name=op.f("fk_notifications_target_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index("ix_notifications_created_at", "notifications", ["created_at"], unique=False)
    op.create_index("ix_notifications_target_user_id", "notifications", ["target_user_id"], unique=False)
    op.create_index(
        "uq_notifications_idempotency", "notifications", ["created_by", "idempotency_key"], unique=True
    )
    op.create_table(
        "notification_audiences",
        sa.Column("audience", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_audiences_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "audience", "created_at", "notification_id", name=op.f("pk_notification_audiences")
        ),
    )
    op.create_index(
        "ix_notification_audiences_notification_id",
        "notification_audiences",
        ["notification_id"],
        unique=False,
    )
    op.create_table(
        "notification_batches",
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("upto", sa.Uuid(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_batches_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("notification_id", "upto", name=op.f("pk_notification_batches")),
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.String(length=60), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_notification_deliveries_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_deliveries_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("notification_id", "device_id", name=op.f("pk_notification_deliveries")),
    )
    op.create_index(
        "ix_notification_deliveries_device_id", "notification_deliveries", ["device_id"], unique=False
    )
    op.create_table(
        "notification_outbox",
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("queue", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_outbox_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_outbox")),
    )
    op.create_index(
        "ix_notification_outbox_notification_id", "notification_outbox", ["notification_id"], unique=False
    )
    op.create_index(
        "ix_notification_outbox_unpublished",
        "notification_outbox",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "notification_receipts",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_receipts_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notification_receipts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "notification_id", name=op.f("pk_notification_receipts")),
    )


def downgrade() -> None:
    op.drop_table("notification_receipts")
    op.drop_index(
        "ix_notification_outbox_unpublished",
        table_name="notification_outbox",
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.drop_index("ix_notification_outbox_notification_id", table_name="notification_outbox")
    op.drop_table("notification_outbox")
    op.drop_index("ix_notification_deliveries_device_id", table_name="notification_deliveries")
    op.drop_table("notification_batches")
    op.drop_table("notification_deliveries")
    op.drop_index("ix_notification_audiences_notification_id", table_name="notification_audiences")
    op.drop_table("notification_audiences")
    op.drop_index("uq_notifications_idempotency", table_name="notifications")
    op.drop_index("ix_notifications_target_user_id", table_name="notifications")
    op.drop_index("ix_notifications_created_at", table_name="notifications")
    op.drop_table("notifications")
    op.drop_table("notification_read_marks")
