"""Web chat sessions that expire: the single-use tickets that open a live stream.

Session tokens carry their own time (bot/tokens.py) and need no table; the live stream's tickets
do when there is no Redis (bot/stream_tickets.py): `stream_tickets`, the ticket's hash, the
session it opens and when it stops working.

Revision ID: 0006_session_expiry
Revises: 0009_sla_alerts
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_session_expiry"
down_revision = "0009_sla_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stream_tickets",
        sa.Column("ticket_hash", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("ticket_hash", name="pk_stream_tickets"),
    )
    op.create_index("ix_stream_tickets_expires_at", "stream_tickets", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_stream_tickets_expires_at", table_name="stream_tickets")
    op.drop_table("stream_tickets")
