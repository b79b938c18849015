"""Outages you can check: an outage declared by staff for one or more agencies, with its cause,
start, expected end, end and timeline of updates.

Create Date: 2026-12-01

Revision ID: 20261201_outages
Revises: 20261201_reference
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261201_outages"
down_revision: str | None = "20261201_reference"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outages",
        sa.Column(
            "cause",
            sa.Enum(
                "planned_works",
                "load_shedding",
                "incident",
                "weather",
                "other",
                name="outage_cause",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("title_fr", sa.String(length=200), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=False),
        sa.Column("message_fr", sa.Text(), nullable=False),
        sa.Column("message_en", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expected_end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_outages_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outages")),
    )
    op.create_index("ix_outages_starts", "outages", ["starts_at", "id"])
    op.create_table(
        "outage_agencies",
        sa.Column("outage_id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agencies.id"],
            name=op.f("fk_outage_agencies_agency_id_agencies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["outage_id"],
            ["outages.id"],
            name=op.f("fk_outage_agencies_outage_id_outages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("outage_id", "agency_id", name=op.f("pk_outage_agencies")),
    )
    op.create_index("ix_outage_agencies_agency", "outage_agencies", ["agency_id", "outage_id"])
    op.create_table(
        "outage_updates",
        sa.Column("outage_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("message_fr", sa.Text(), nullable=False),
        sa.Column("message_en", sa.Text(), nullable=False),
        sa.Column("expected_end_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notification_id", sa.Uuid(), nullable=True),
        sa.Column("by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["by"], ["users.id"], name=op.f("fk_outage_updates_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["outage_id"],
            ["outages.id"],
            name=op.f("fk_outage_updates_outage_id_outages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outage_updates")),
    )
    op.create_index("ix_outage_updates_outage_at", "outage_updates", ["outage_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_outage_updates_outage_at", table_name="outage_updates")
    op.drop_table("outage_updates")
    op.drop_index("ix_outage_agencies_agency", table_name="outage_agencies")
    op.drop_table("outage_agencies")
    op.drop_index("ix_outages_starts", table_name="outages")
    op.drop_table("outages")
