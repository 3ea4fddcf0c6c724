"""Proactive order notices: `order_events`, `notices`, `notice_consents` (bot/store/notices.py).

- `order_events`: each event the ERP (or an operator, or the overdue check) raised, once per
  `event_id`;
- `notices`: the notice of one event to one contact, the reply that carried it and the choice
  the customer made afterwards; unique per (event, contact);
- `notice_consents`: each "stop the notices" / "send them again", with when and on which channel.

Nothing existing changes: new tables only, so the downgrade drops them.

Revision ID: 0007_order_notices
Revises: 0008_care_cycles
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_order_notices"
down_revision = "0008_care_cycles"  # main's chain: ..., 0006_session_expiry, 0008_care_cycles, then this
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("expected_date", sa.Date(), nullable=True),
        sa.Column("carrier", sa.String(length=100), nullable=True),
        sa.Column("tracking_number", sa.String(length=100), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("type IN ('delayed', 'shipped', 'delivered', 'ready_for_pickup')",
                           name="ck_order_events_type"),
        sa.CheckConstraint("source IN ('api', 'cli', 'overdue')", name="ck_order_events_source"),
        sa.PrimaryKeyConstraint("id", name="pk_order_events"),
        sa.UniqueConstraint("event_id", name="uq_order_events_event_id"),
    )
    op.create_index("ix_order_events_order_id", "order_events", ["order_id"])
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="scheduled", nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("template", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("choice", sa.String(length=16), nullable=True),
        sa.Column("chosen_at", sa.DateTime(), nullable=True),
        sa.Column("ticket_id", sa.String(length=32), nullable=True),
        sa.CheckConstraint("status IN ('scheduled', 'sent', 'opted_out', 'unreachable')", name="ck_notices_status"),
        sa.CheckConstraint("choice IS NULL OR choice IN ('wait', 'alternative', 'ship_ready', 'person')",
                           name="ck_notices_choice"),
        sa.ForeignKeyConstraint(["event_id"], ["order_events.id"], name="fk_notices_event_id_order_events",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name="fk_notices_contact_id_contacts",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_notices"),
        sa.UniqueConstraint("event_id", "contact_id", name="uq_notices_event_id_contact_id"),
    )
    op.create_index("ix_notices_contact_id", "notices", ["contact_id"])
    op.create_index("ix_notices_order_id", "notices", ["order_id"])
    op.create_index("ix_notices_message_id", "notices", ["message_id"])
    op.create_table(
        "notice_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("opted_in", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name="fk_notice_consents_contact_id_contacts",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_notice_consents"),
    )
    op.create_index("ix_notice_consents_contact_id", "notice_consents", ["contact_id"])


def downgrade() -> None:
    op.drop_index("ix_notice_consents_contact_id", table_name="notice_consents")
    op.drop_table("notice_consents")
    for index in ("ix_notices_message_id", "ix_notices_order_id", "ix_notices_contact_id"):
        op.drop_index(index, table_name="notices")
    op.drop_table("notices")
    op.drop_index("ix_order_events_order_id", table_name="order_events")
    op.drop_table("order_events")
