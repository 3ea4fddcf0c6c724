"""A person's rights: the audit trail, the desk's posts, operator-verified e-mails, retention.

- `audit_log`: who did what with customers' data, and when (bot/audit.py). Append-only: triggers
  refuse UPDATE and DELETE on SQLite and PostgreSQL alike.
- `desk_posts`: every message at the agents' desk about a conversation (channel and ts), so that
  erasing the person deletes them there. Of what was posted before this revision, the current
  thread root of each conversation (`desk_threads`) and the agents' replies (their markers) are
  listed, with the channel left empty: the desk's configured channel. Relayed customer messages
  and the desk's notices of that time were not recorded and cannot be listed.
- `contacts.email_verified_by`: the operator who set and verified an e-mail (`contacts rectify`).
- `conversations.anonymised_at`: when retention (or an erasure) last anonymised the conversation.

Revision ID: 0005_audit_and_retention
Revises: 0004
Create Date: 2026-12-07
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_audit_and_retention"
down_revision = "0004"
branch_labels = None
depends_on = None

REFUSAL = "audit_log is append-only"


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_contact_id_at", "audit_log", ["contact_id", "at"])
    op.create_index("ix_audit_log_actor_at", "audit_log", ["actor", "at"])
    _append_only()
    op.create_table(
        "desk_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"],
            name="fk_desk_posts_conversation_id_conversations", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_desk_posts"),
        sa.UniqueConstraint("channel", "ts", name="uq_desk_posts_channel_ts"),
    )
    op.create_index("ix_desk_posts_conversation_id", "desk_posts", ["conversation_id"])
    op.execute(
        "INSERT INTO desk_posts (conversation_id, channel, ts, kind, created_at) "
        "SELECT t.conversation_id, '', t.thread_ts, 'summary', COALESCE(c.handed_off_at, c.created_at) "
        "FROM desk_threads t JOIN conversations c ON c.id = t.conversation_id"
    )
    op.execute(
        "INSERT INTO desk_posts (conversation_id, channel, ts, kind, created_at) "
        "SELECT conversation_id, '', substr(provider_message_id, 5), 'agent', created_at FROM messages "
        "WHERE channel = 'slack' AND provider_message_id LIKE 'msg:%' AND author = 'agent'"
    )
    op.add_column("contacts", sa.Column("email_verified_by", sa.String(length=200), nullable=True))
    op.add_column("conversations", sa.Column("anonymised_at", sa.DateTime(), nullable=True))


def _append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
            f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
        )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite >= 3.35), never batch mode: see 0003 on why.
    op.drop_column("conversations", "anonymised_at")
    op.drop_column("contacts", "email_verified_by")
    op.drop_index("ix_desk_posts_conversation_id", table_name="desk_posts")
    op.drop_table("desk_posts")
    op.drop_index("ix_audit_log_actor_at", table_name="audit_log")
    op.drop_index("ix_audit_log_contact_id_at", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")  # its triggers go with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
