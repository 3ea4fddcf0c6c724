"""Work that replicas claim: the `jobs` table, fencing tokens, replies tied to what they answer.

- `jobs`: durable, claimable work (processing an inbound message, sending a reply, timers).
  Inbound messages still waiting to be processed and replies still pending are given their job,
  so nothing stored before the upgrade is forgotten.
- `conversations.fence`: the fencing token of the latest turn (see bot/turn_lock.py).
- `messages.reply_to`, `messages.sent_parts`: the inbound message a reply answers, and the parts
  of a split reply already sent (they were in memory, and a restart sent them again).
- `messages.turn_started_at`, `turn_ended_at`, `processed_by`: an inbound message's turn.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=True),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        sa.UniqueConstraint("key", name="uq_jobs_key"),
    )
    op.create_index("ix_jobs_kind_due_at", "jobs", ["kind", "due_at"])
    op.create_index("ix_jobs_kind_ref", "jobs", ["kind", "ref"])
    op.add_column("conversations", sa.Column("fence", sa.BigInteger(), nullable=True))
    op.add_column("messages", sa.Column("reply_to", sa.Integer(), nullable=True))
    op.add_column("messages", sa.Column("sent_parts", sa.JSON(), nullable=True))
    op.add_column("messages", sa.Column("turn_started_at", sa.DateTime(), nullable=True))
    op.add_column("messages", sa.Column("turn_ended_at", sa.DateTime(), nullable=True))
    op.add_column("messages", sa.Column("processed_by", sa.String(length=100), nullable=True))
    op.create_index("ix_messages_reply_to", "messages", ["reply_to"])
    op.execute(
        "INSERT INTO jobs (kind, ref, due_at, attempts, created_at) "
        "SELECT 'inbound', CAST(id AS VARCHAR(64)), created_at, attempts, created_at FROM messages "
        "WHERE direction = 'in' AND delivery_status = 'received'"
    )
    op.execute(
        "INSERT INTO jobs (kind, ref, due_at, attempts, created_at) "
        "SELECT 'deliver', CAST(id AS VARCHAR(64)), COALESCE(next_attempt_at, created_at), attempts, created_at "
        "FROM messages WHERE direction = 'out' AND delivery_status = 'pending'"
    )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite >= 3.35), never batch mode: see 0003 on why.
    op.drop_index("ix_messages_reply_to", table_name="messages")
    for column in ("processed_by", "turn_ended_at", "turn_started_at", "sent_parts"):
        op.drop_column("messages", column)
    op.drop_column("messages", "reply_to")
    op.drop_column("conversations", "fence")
    op.drop_index("ix_jobs_kind_ref", table_name="jobs")
    op.drop_index("ix_jobs_kind_due_at", table_name="jobs")
    op.drop_table("jobs")
