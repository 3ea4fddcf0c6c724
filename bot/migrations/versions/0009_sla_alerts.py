"""SLA clocks and alerts: `sla_clocks` (what is being timed, in business time) and `sla_alerts`
(each warning and breach alert, claimed before it is posted; unique per clock and level).

Nothing before this revision was timed, so both tables start empty.

Revision ID: 0009_sla_alerts
Revises: 0005_audit_and_retention
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_sla_alerts"
down_revision = "0005_audit_and_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sla_clocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("episode", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("warn_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("stopped_at", sa.DateTime(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.CheckConstraint("kind IN ('ticket', 'handoff')", name="ck_sla_clocks_kind"),
        sa.PrimaryKeyConstraint("id", name="pk_sla_clocks"),
        sa.UniqueConstraint("kind", "ref", "episode", name="uq_sla_clocks_kind_ref_episode"),
    )
    op.create_index("ix_sla_clocks_stopped_at_due_at", "sla_clocks", ["stopped_at", "due_at"])
    op.create_table(
        "sla_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("episode", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(), nullable=False),
        sa.Column("attempted_by", sa.String(length=100), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("posted_ref", sa.String(length=64), nullable=True),
        sa.CheckConstraint("kind IN ('ticket', 'handoff')", name="ck_sla_alerts_kind"),
        sa.CheckConstraint("level IN ('warned', 'breached')", name="ck_sla_alerts_level"),
        sa.PrimaryKeyConstraint("id", name="pk_sla_alerts"),
        sa.UniqueConstraint("kind", "ref", "episode", "level", name="uq_sla_alerts_kind_ref_episode_level"),
    )
    op.create_index("ix_sla_alerts_sent_at", "sla_alerts", ["sent_at"])


def downgrade() -> None:
    op.drop_index("ix_sla_alerts_sent_at", table_name="sla_alerts")
    op.drop_table("sla_alerts")
    op.drop_index("ix_sla_clocks_stopped_at_due_at", table_name="sla_clocks")
    op.drop_table("sla_clocks")
