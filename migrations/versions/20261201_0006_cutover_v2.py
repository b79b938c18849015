"""Cutover from v2 (2026-12-01): the v2 id → v3 id mapping table and the import runs.

Revision ID: 20261201_cutover
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "20261201_cutover"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cutover_v2_ids",
        sa.Column("entity", sa.String(length=24), nullable=False),
        sa.Column("v2_id", sa.BigInteger(), nullable=False),
        sa.Column("v3_id", sa.Uuid(), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column(
            "first_imported_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "last_imported_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("entity", "v2_id", name=op.f("pk_cutover_v2_ids")),
    )
    op.create_index("ix_cutover_v2_ids_entity_v3", "cutover_v2_ids", ["entity", "v3_id"], unique=False)
    op.create_table(
        "cutover_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dry_run", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "report",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cutover_runs")),
    )


def downgrade() -> None:
    op.drop_table("cutover_runs")
    op.drop_index("ix_cutover_v2_ids_entity_v3", table_name="cutover_v2_ids")
    op.drop_table("cutover_v2_ids")
