"""tariffs tables: versioned tariff grids, tranches, threshold bands, tranche alerts sent.

The reference grids (CRSE 2023 and 2026) are data loaded by ``samaconso seed`` (tariffs/seed.py).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tariff_versions",
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=160), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("monthly_fee", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("municipal_tax_rate", sa.Numeric(precision=6, scale=4), nullable=False),
        sa.Column("vat_rate", sa.Numeric(precision=6, scale=4), nullable=False),
        sa.Column("vat_from_kwh", sa.Numeric(precision=10, scale=1), nullable=True),
        sa.Column("minimum_purchase", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "effective_to IS NULL OR effective_to >= effective_from", name=op.f("ck_tariff_versions_period")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_tariff_versions_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariff_versions")),
    )
    op.create_index(
        "uq_tariff_versions_code_from", "tariff_versions", ["code", "effective_from"], unique=True
    )
    op.create_table(
        "tariff_tranches",
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("kwh_from", sa.Numeric(precision=10, scale=1), nullable=False),
        sa.Column("kwh_to", sa.Numeric(precision=10, scale=1), nullable=True),
        sa.Column("price_postpaid", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("price_prepaid", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["tariff_versions.id"],
            name=op.f("fk_tariff_tranches_version_id_tariff_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariff_tranches")),
    )
    op.create_index(
        "uq_tariff_tranches_version_position", "tariff_tranches", ["version_id", "position"], unique=True
    )
    op.create_table(
        "tariff_bands",
        sa.Column("tariff_code", sa.String(length=20), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("kwh_min", sa.Numeric(precision=10, scale=1), nullable=False),
        sa.Column("kwh_max", sa.Numeric(precision=10, scale=1), nullable=True),
        sa.Column("color_hex", sa.String(length=7), nullable=False),
        sa.Column("label_fr", sa.String(length=80), nullable=False),
        sa.Column("label_en", sa.String(length=80), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariff_bands")),
    )
    op.create_index("uq_tariff_bands_code_position", "tariff_bands", ["tariff_code", "position"], unique=True)
    op.create_table(
        "tranche_alerts",
        sa.Column("meter_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("kwh_month", sa.Numeric(precision=10, scale=1), nullable=False),
        sa.Column("kwh_left", sa.Numeric(precision=10, scale=1), nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meters.id"], name=op.f("fk_tranche_alerts_meter_id_meters"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_tranche_alerts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tranche_alerts")),
    )
    op.create_index(op.f("ix_tranche_alerts_user_id"), "tranche_alerts", ["user_id"], unique=False)
    op.create_index(
        "uq_tranche_alerts_meter_user_month", "tranche_alerts", ["meter_id", "user_id", "month"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_tranche_alerts_meter_user_month", table_name="tranche_alerts")
    op.drop_index(op.f("ix_tranche_alerts_user_id"), table_name="tranche_alerts")
    op.drop_table("tranche_alerts")
    op.drop_index("uq_tariff_bands_code_position", table_name="tariff_bands")
    op.drop_table("tariff_bands")
    op.drop_index("uq_tariff_tranches_version_position", table_name="tariff_tranches")
    op.drop_table("tariff_tranches")
    op.drop_index("uq_tariff_versions_code_from", table_name="tariff_versions")
    op.drop_table("tariff_versions")
