"""Customer requests you can follow: a short human reference (``DKC-2026-004512``), reopening and a
rating once resolved.

Create Date: 2026-12-01

Revision ID: 20261201_reference
Revises: 20261201_cutover
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261201_reference"
down_revision: str | None = "20261201_cutover"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE customer_request_reference_seq")
    op.add_column("customer_requests", sa.Column("reference", sa.String(length=48), nullable=True))
    op.add_column(
        "customer_requests",
        sa.Column("reopen_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("customer_requests", sa.Column("rating_score", sa.SmallInteger(), nullable=True))
    op.add_column("customer_requests", sa.Column("rating_comment", sa.Text(), nullable=True))
    op.add_column("customer_requests", sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True))
    # the requests already there get a reference in submission order
    op.execute(
        """
        UPDATE customer_requests AS r
        SET reference = upper(coalesce(a.code, 'SEN')) || '-' || extract(year FROM r.created_at)::int
                        || '-' || lpad(o.n::text, 6, '0')
        FROM (
            SELECT id, nextval('customer_request_reference_seq') AS n
            FROM (SELECT id FROM customer_requests ORDER BY created_at, id) AS ordered
        ) AS o
        LEFT JOIN customer_requests AS rr ON rr.id = o.id
        LEFT JOIN agencies AS a ON a.id = rr.agency_id
        WHERE r.id = o.id
        """
    )
    op.alter_column("customer_requests", "reference", nullable=False)
    op.create_unique_constraint(op.f("uq_customer_requests_reference"), "customer_requests", ["reference"])
    op.create_check_constraint(
        op.f("ck_customer_requests_rating_score"),
        "customer_requests",
        "rating_score IS NULL OR rating_score BETWEEN 1 AND 5",
    )
    # dashboard: ratings per agency
    op.create_index(
        "ix_customer_requests_agency_rating",
        "customer_requests",
        ["agency_id", "rating_score"],
        postgresql_where=sa.text("rating_score IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_customer_requests_agency_rating", table_name="customer_requests")
    op.drop_constraint(op.f("ck_customer_requests_rating_score"), "customer_requests", type_="check")
    op.drop_constraint(op.f("uq_customer_requests_reference"), "customer_requests", type_="unique")
    for column in ("rated_at", "rating_comment", "rating_score", "reopen_count", "reference"):
        op.drop_column("customer_requests", column)
    op.execute("DROP SEQUENCE customer_request_reference_seq")
