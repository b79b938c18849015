"""Requests, files and dashboard tables (customer requests and their history, uploaded documents,
the indexes the agency dashboard's aggregate queries need).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dashboard_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("notifications", sa.Integer(), nullable=False),
        sa.Column("push_attempts", sa.Integer(), nullable=False),
        sa.Column("push_delivered", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "scope", name=op.f("pk_dashboard_daily")),
    )
    op.create_table(
        "dashboard_rollups",
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("figures", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_dashboard_rollups")),
    )
    op.create_table(
        "request_types",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("label_fr", sa.String(length=120), nullable=False),
        sa.Column("label_en", sa.String(length=120), nullable=False),
        sa.Column("sla_hours", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_types")),
        sa.UniqueConstraint("code", name=op.f("uq_request_types_code")),
    )
    op.create_table(
        "customer_requests",
        sa.Column("type_id", sa.Uuid(), nullable=False),
        sa.Column("requester_id", sa.Uuid(), nullable=False),
        sa.Column("meter_id", sa.Uuid(), nullable=True),
        sa.Column("agency_id", sa.Uuid(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "submitted",
                "in_progress",
                "resolved",
                "rejected",
                "cancelled",
                name="request_status",
                native_enum=False,
                length=16,
            ),
            server_default="submitted",
            nullable=False,
        ),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("assigned_to", sa.Uuid(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_customer_requests_agency_id_agencies"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["assigned_to"],
            ["users.id"],
            name=op.f("fk_customer_requests_assigned_to_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"],
            ["meters.id"],
            name=op.f("fk_customer_requests_meter_id_meters"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["users.id"],
            name=op.f("fk_customer_requests_requester_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["type_id"],
            ["request_types.id"],
            name=op.f("fk_customer_requests_type_id_request_types"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_requests")),
    )
    op.create_index(
        "ix_customer_requests_agency_created",
        "customer_requests",
        ["agency_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_customer_requests_agency_status_due",
        "customer_requests",
        ["agency_id", "status", "due_at"],
        unique=False,
    )
    op.create_index(
        "ix_customer_requests_requester_created",
        "customer_requests",
        ["requester_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_customer_requests_status_created",
        "customer_requests",
        ["status", "created_at", "id"],
        unique=False,
    )
    op.create_table(
        "request_events",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "status", "comment", "assignment", name="request_event_kind", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_request_events_actor_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["customer_requests.id"],
            name=op.f("fk_request_events_request_id_customer_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_events")),
    )
    op.create_index("ix_request_events_request_at", "request_events", ["request_id", "at"], unique=False)
    op.create_table(
        "stored_files",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("bucket", sa.String(length=63), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("original_name", sa.String(length=255), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=True),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_stored_files_owner_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["customer_requests.id"],
            name=op.f("fk_stored_files_request_id_customer_requests"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_files")),
        sa.UniqueConstraint("key", name=op.f("uq_stored_files_key")),
    )
    op.create_index("ix_stored_files_owner_created", "stored_files", ["owner_id", "created_at"], unique=False)
    op.create_index("ix_stored_files_request", "stored_files", ["request_id"], unique=False)
    op.create_index(
        "ix_stored_files_unattached",
        "stored_files",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("request_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("dashboard_daily")
    op.drop_table("dashboard_rollups")
    op.drop_index(
        "ix_stored_files_unattached",
        table_name="stored_files",
        postgresql_where=sa.text("request_id IS NULL"),
    )
    op.drop_index("ix_stored_files_request", table_name="stored_files")
    op.drop_index("ix_stored_files_owner_created", table_name="stored_files")
    op.drop_table("stored_files")
    op.drop_index("ix_request_events_request_at", table_name="request_events")
    op.drop_table("request_events")
    op.drop_index("ix_customer_requests_status_created", table_name="customer_requests")
    op.drop_index("ix_customer_requests_requester_created", table_name="customer_requests")
    op.drop_index("ix_customer_requests_agency_status_due", table_name="customer_requests")
    op.drop_index("ix_customer_requests_agency_created", table_name="customer_requests")
    op.drop_table("customer_requests")
    op.drop_table("request_types")
