"""Slack's thread column leaves `conversations` for a table the agents' desk owns, `desk_threads`.

Data kept: each conversation's `slack_thread_ts` is copied to `desk_threads` before the column
goes, and back on downgrade. The column is dropped with a plain ALTER TABLE ... DROP COLUMN
(SQLite >= 3.35 has it; its index is dropped first), never through batch mode: batch mode on
SQLite copies the table and drops the old one, and with foreign keys on, dropping
`conversations` cascades into every message of every conversation (ON DELETE CASCADE), and
into `desk_threads` itself.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desk_threads",
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("thread_ts", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"],
            name="fk_desk_threads_conversation_id_conversations", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", name="pk_desk_threads"),
    )
    op.create_index("ix_desk_threads_thread_ts", "desk_threads", ["thread_ts"])
    op.execute(
        "INSERT INTO desk_threads (conversation_id, thread_ts) "
        "SELECT id, slack_thread_ts FROM conversations WHERE slack_thread_ts IS NOT NULL"
    )
    op.drop_index("ix_conversations_slack_thread_ts", table_name="conversations")
    op.drop_column("conversations", "slack_thread_ts")


def downgrade() -> None:
    op.add_column("conversations", sa.Column("slack_thread_ts", sa.String(length=32), nullable=True))
    op.create_index("ix_conversations_slack_thread_ts", "conversations", ["slack_thread_ts"])
    op.execute(
        "UPDATE conversations SET slack_thread_ts = "
        "(SELECT thread_ts FROM desk_threads WHERE desk_threads.conversation_id = conversations.id)"
    )
    op.drop_index("ix_desk_threads_thread_ts", table_name="desk_threads")
    op.drop_table("desk_threads")
