"""Orders say why they are late as a code, so the customer hears the reason in their language.

`delay_reason` stays: it is logistics' own note, in their words. SQLite cannot add a constraint
to an existing table, but it can add a column that carries its own CHECK, so that is how the
column arrives on both databases (no table copy, which would cascade-delete order lines).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DELAY_CODES = ("weather", "stock_transfer", "incomplete_address", "carrier_incident", "customs", "other")
_CHECK = "delay_code IS NULL OR delay_code IN ({})".format(", ".join(f"'{c}'" for c in DELAY_CODES))


def upgrade() -> None:
    op.add_column(
        "orders",
        sa.Column("delay_code", sa.String(length=24), sa.CheckConstraint(_CHECK, name="delay_code"), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("orders", "delay_code")
