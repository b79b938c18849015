"""Cutover delta (issue 14): the fingerprint of every v2 row as the last import read it.

A later ``import-v2 --since`` compares them with v2's rows of the moment: a row whose fingerprint
differs changed (whatever its clock says), a row with none is new, a remembered row v2 no longer
has was deleted.

Revision ID: 20261201_cutover_rows
Revises: 20261201_request_notified
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261201_cutover_rows"
down_revision: str | None = "20261201_request_notified"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cutover_v2_rows",
        sa.Column("entity", sa.String(length=24), nullable=False),
        sa.Column("v2_id", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("entity", "v2_id", name=op.f("pk_cutover_v2_rows")),
    )


def downgrade() -> None:
    op.drop_table("cutover_v2_rows")
