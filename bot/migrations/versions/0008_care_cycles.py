"""Care cycles as records: `care_sessions` and `handoffs` (bot/store/cycles.py), and the Rasa
response that said each bot reply (`messages.response`, how the fallback's answers are told).

Existing data is derived from the messages and the conversations' columns:

- sessions: each conversation's customer messages, split where more than 60 minutes pass between
  two of them (not while the conversation's hand-off was open); channel of the first message;
  first response = the first bot reply sent (or stored, when no send time is known) after it;
- one hand-off per conversation whose `handed_off_at` is set (earlier ones were overwritten and
  are lost): requested = `handed_off_at`, channel = the channel of the customer's last message
  before it, first agent reply = the first agent message after it, resolved = `resolved_at` when
  it is later, with the survey asked then and the score the conversation kept; otherwise, once
  the conversation is back with the bot, returned (when is not known: `ended_at` = requested).
  The claim time is not known (NULL). Which replies were the fallback's was not recorded: the
  derived sessions count none.
Durations are computed as the service does, business seconds on today's service calendar.

Revision ID: 0008_care_cycles
Revises: 0006_session_expiry
Create Date: 2026-12-07
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterator, Optional

import sqlalchemy as sa
from alembic import op

revision = "0008_care_cycles"
down_revision = "0006_session_expiry"  # main's chain: 0004, 0005_audit_and_retention, 0009_sla_alerts, 0006_session_expiry
branch_labels = None
depends_on = None

GAP = dt.timedelta(minutes=60)
UTC = dt.timezone.utc
WITH_PEOPLE = ("waiting_agent", "agent")

_messages = sa.table(
    "messages", sa.column("id", sa.Integer), sa.column("conversation_id", sa.String), sa.column("direction", sa.String),
    sa.column("author", sa.String), sa.column("channel", sa.String), sa.column("private", sa.Boolean),
    sa.column("delivery_status", sa.String), sa.column("created_at", sa.DateTime), sa.column("sent_at", sa.DateTime),
)
_conversations = sa.table(
    "conversations", sa.column("id", sa.String), sa.column("status", sa.String), sa.column("last_channel", sa.String),
    sa.column("assigned_agent", sa.String), sa.column("handed_off_at", sa.DateTime),
    sa.column("resolved_at", sa.DateTime), sa.column("csat", sa.Integer), sa.column("csat_agent", sa.String),
)


def _create_tables() -> None:
    op.add_column("messages", sa.Column("response", sa.String(length=64), nullable=True))
    op.create_index("ix_messages_response_created_at", "messages", ["response", "created_at"])
    op.create_table(
        "care_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last_message_at", sa.DateTime(), nullable=False),
        sa.Column("messages", sa.Integer(), server_default="1", nullable=False),
        sa.Column("fallbacks", sa.Integer(), server_default="0", nullable=False),
        sa.Column("handoffs", sa.Integer(), server_default="0", nullable=False),
        sa.Column("first_reply_at", sa.DateTime(), nullable=True),
        sa.Column("reply_s", sa.Float(), nullable=True),
        sa.Column("reply_business_s", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name="fk_care_sessions_conversation_id_conversations", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_care_sessions"),
        sa.UniqueConstraint("conversation_id", "seq", name="uq_care_sessions_conversation_id_seq"),
    )
    op.create_index("ix_care_sessions_started_at", "care_sessions", ["started_at"])
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("first_reply_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("agent", sa.String(length=100), nullable=True),
        sa.Column("csat_asked_at", sa.DateTime(), nullable=True),
        sa.Column("csat_answered_at", sa.DateTime(), nullable=True),
        sa.Column("csat", sa.Integer(), nullable=True),
        sa.Column("reply_s", sa.Float(), nullable=True),
        sa.Column("reply_business_s", sa.Float(), nullable=True),
        sa.Column("resolution_s", sa.Float(), nullable=True),
        sa.Column("resolution_business_s", sa.Float(), nullable=True),
        sa.CheckConstraint("outcome IS NULL OR outcome IN ('resolved', 'returned')", name="ck_handoffs_outcome"),
        sa.CheckConstraint("csat IS NULL OR (csat BETWEEN 1 AND 5)", name="ck_handoffs_csat"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name="fk_handoffs_conversation_id_conversations", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["session_id"], ["care_sessions.id"],
                                name="fk_handoffs_session_id_care_sessions", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_handoffs"),
    )
    op.create_index("ix_handoffs_conversation_id_id", "handoffs", ["conversation_id", "id"])
    op.create_index("ix_handoffs_requested_at", "handoffs", ["requested_at"])


def upgrade() -> None:
    _create_tables()
    _derive(op.get_bind())


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite >= 3.35), never batch mode: see 0003 on why.
    op.drop_index("ix_handoffs_requested_at", table_name="handoffs")
    op.drop_index("ix_handoffs_conversation_id_id", table_name="handoffs")
    op.drop_table("handoffs")
    op.drop_index("ix_care_sessions_started_at", table_name="care_sessions")
    op.drop_table("care_sessions")
    op.drop_index("ix_messages_response_created_at", table_name="messages")
    op.drop_column("messages", "response")


# -- deriving the records of existing conversations -------------------------------------------------
def _aware(value: Optional[dt.datetime]) -> Optional[dt.datetime]:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _naive(value: Optional[dt.datetime]) -> Optional[dt.datetime]:
    return value.astimezone(UTC).replace(tzinfo=None) if value is not None else None


def _by_conversation(connection: sa.engine.Connection) -> Iterator[tuple[dict, list]]:
    """(conversation, its public messages in order) for every conversation with messages."""
    conversations = {row.id: row._mapping for row in connection.execute(sa.select(_conversations))}
    query = (sa.select(_messages).where(_messages.c.private.is_(False))
             .order_by(_messages.c.conversation_id, _messages.c.created_at, _messages.c.id)
             .execution_options(stream_results=True))
    current: Optional[str] = None
    batch: list = []
    for row in connection.execute(query):
        if row.conversation_id != current:
            if batch and current in conversations:
                yield dict(conversations[current]), batch
            current, batch = row.conversation_id, []
        batch.append(row)
    if batch and current in conversations:
        yield dict(conversations[current]), batch


def _handoff_window(conversation: dict) -> tuple[Optional[dt.datetime], Optional[dt.datetime], bool]:
    """(requested, resolved, still open) of the conversation's last hand-off."""
    requested = _aware(conversation["handed_off_at"])
    resolved = _aware(conversation["resolved_at"])
    if resolved is not None and requested is not None and resolved < requested:
        resolved = None
    return requested, resolved, conversation["status"] in WITH_PEOPLE


def _sessions(conversation: dict, messages: list, calendar: Any) -> list[dict]:
    requested, resolved, still_open = _handoff_window(conversation)

    def held(at: dt.datetime) -> bool:  # the hand-off was open at `at`: the session does not expire
        return requested is not None and requested <= at and (still_open or (resolved is not None and at < resolved))

    sessions: list[dict] = []
    for row in messages:
        at = _aware(row.created_at)
        if row.direction == "in" and row.author == "customer":
            last = sessions[-1] if sessions else None
            if last is not None and (at - last["last"] <= GAP or held(at)):
                last["last"], last["messages"] = at, last["messages"] + 1
            else:
                sessions.append({"channel": row.channel, "started": at, "last": at, "messages": 1, "reply": None})
        elif row.author == "bot" and sessions and sessions[-1]["reply"] is None:
            if row.delivery_status in ("sent", "delivered", "read"):
                sessions[-1]["reply"] = _aware(row.sent_at) or at
    for number, session in enumerate(sessions, start=1):
        session["seq"], session["day"] = number, calendar.local(session["started"]).date()
    return sessions


def _handoff(conversation: dict, messages: list, sessions: list[dict], calendar: Any) -> Optional[dict]:
    requested, resolved, still_open = _handoff_window(conversation)
    if requested is None:
        return None
    before = [r for r in messages if r.direction == "in" and r.author == "customer" and _aware(r.created_at) <= requested]
    after = [r for r in messages if _aware(r.created_at) >= requested]
    agent_reply = next((_aware(r.sent_at) or _aware(r.created_at) for r in after if r.author == "agent"), None)
    within = [s for s in sessions if s["started"] <= requested]
    row = {"conversation_id": conversation["id"], "channel": before[-1].channel if before else
           (conversation["last_channel"] or "unknown"), "requested_at": requested, "first_reply_at": agent_reply,
           "agent": conversation["assigned_agent"] or conversation["csat_agent"], "seq": within[-1]["seq"] if within else None}
    if agent_reply is not None:
        row["reply_s"] = (agent_reply - requested).total_seconds()
        row["reply_business_s"] = calendar.business_seconds(requested, agent_reply)
    if resolved is not None:
        answer = next((_aware(r.created_at) for r in messages if r.author == "customer" and _aware(r.created_at) > resolved), None)
        row.update(outcome="resolved", ended_at=resolved, csat_asked_at=resolved, csat=conversation["csat"],
                   csat_answered_at=(answer or resolved) if conversation["csat"] is not None else None,
                   resolution_s=(resolved - requested).total_seconds(),
                   resolution_business_s=calendar.business_seconds(requested, resolved))
    elif not still_open:
        row.update(outcome="returned", ended_at=requested)
    if within:
        within[-1]["handoffs"] = within[-1].get("handoffs", 0) + 1
    return row


def _session_row(conversation_id: str, session: dict, calendar: Any) -> dict:
    reply = session["reply"]
    return {"conversation_id": conversation_id, "seq": session["seq"], "channel": session["channel"],
            "started_at": _naive(session["started"]), "day": session["day"], "last_message_at": _naive(session["last"]),
            "messages": session["messages"], "fallbacks": 0, "handoffs": session.get("handoffs", 0),
            "first_reply_at": _naive(reply),
            "reply_s": (reply - session["started"]).total_seconds() if reply else None,
            "reply_business_s": calendar.business_seconds(session["started"], reply) if reply else None}


def _type(column: str) -> Any:
    """The type a column is written with (datetimes as SQLAlchemy stores them on every database)."""
    if column == "day":
        return sa.Date()
    if column.endswith("_at"):
        return sa.DateTime()
    return sa.Float() if column.endswith("_s") else None


def _derive(connection: sa.engine.Connection) -> None:
    from bot import service  # the service calendar, as the running service counts business time

    calendar = service.calendar()
    care_sessions = sa.table("care_sessions", *(sa.column(name, _type(name)) for name in (
        "id", "conversation_id", "seq", "channel", "started_at", "day", "last_message_at", "messages", "fallbacks",
        "handoffs", "first_reply_at", "reply_s", "reply_business_s")))
    handoff_columns = ("conversation_id", "session_id", "channel", "requested_at", "first_reply_at", "ended_at",
                       "outcome", "agent", "csat_asked_at", "csat_answered_at", "csat", "reply_s",
                       "reply_business_s", "resolution_s", "resolution_business_s")
    handoffs = sa.table("handoffs", *(sa.column(name, _type(name)) for name in handoff_columns))
    session_rows, handoff_rows = [], []
    for conversation, messages in list(_by_conversation(connection)):
        sessions = _sessions(conversation, messages, calendar)
        handoff = _handoff(conversation, messages, sessions, calendar)
        session_rows += [_session_row(conversation["id"], s, calendar) for s in sessions]
        if handoff is not None:
            handoff_rows.append(handoff)
    if session_rows:
        connection.execute(care_sessions.insert(), session_rows)
    ids = {(r.conversation_id, r.seq): r.id for r in connection.execute(
        sa.select(care_sessions.c.id, care_sessions.c.conversation_id, care_sessions.c.seq))}
    for row in handoff_rows:
        row["session_id"] = ids.get((row["conversation_id"], row.pop("seq")))
        for key in ("requested_at", "first_reply_at", "ended_at", "csat_asked_at", "csat_answered_at"):
            row[key] = _naive(row.get(key))
    if handoff_rows:
        connection.execute(handoffs.insert(), [{key: row.get(key) for key in handoff_columns} for row in handoff_rows])
