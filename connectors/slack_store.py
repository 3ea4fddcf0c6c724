"""Store operations of the Slack desk: who holds a conversation, and what was already done once.

State changes that two agents (or a Slack retry) can race on are single conditional UPDATEs or
INSERTs against a unique key, so the database decides who wins, in one process or several.
"Done once" facts (thread posted, reminder sent, agent message relayed) are private messages on
channel "slack" whose provider_message_id is the unique key; no schema change needed.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from bot.db import session_scope, utcnow
from bot.store.models import ChannelIdentity, Contact, Conversation, Message

CHANNEL = "slack"
WITH_PEOPLE = ("waiting_agent", "agent")


@dataclass(frozen=True)
class Snapshot:
    """What the desk needs to know about a conversation, read in one transaction."""

    id: str
    status: str
    language: str
    last_channel: Optional[str]
    assigned_agent: Optional[str]
    handed_off_at: Optional[dt.datetime]
    resolved_at: Optional[dt.datetime]
    slack_thread_ts: Optional[str]
    csat: Optional[int]
    contact_id: int
    name: Optional[str]
    phone: Optional[str]
    email: Optional[str]
    is_distributor: bool


@dataclass(frozen=True)
class Identity:
    channel: str
    address: str
    verified: bool


def _snapshot(conversation: Conversation, contact: Optional[Contact]) -> Snapshot:
    language = conversation.language or (contact.language if contact else None) or "es"
    return Snapshot(
        id=conversation.id,
        status=conversation.status,
        language=language if language in ("es", "en") else "es",
        last_channel=conversation.last_channel,
        assigned_agent=conversation.assigned_agent,
        handed_off_at=conversation.handed_off_at,
        resolved_at=conversation.resolved_at,
        slack_thread_ts=conversation.slack_thread_ts,
        csat=conversation.csat,
        contact_id=conversation.contact_id,
        name=contact.name if contact else None,
        phone=contact.phone if contact else None,
        email=contact.email if contact else None,
        is_distributor=bool(contact.is_distributor) if contact else False,
    )


def snapshot(conversation_id: str) -> Optional[Snapshot]:
    with session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            return None
        return _snapshot(conversation, session.get(Contact, conversation.contact_id))


def by_thread(thread_ts: str) -> Optional[Snapshot]:
    """The conversation whose current Slack thread starts at `thread_ts`."""
    with session_scope() as session:
        conversation = session.execute(
            select(Conversation).where(Conversation.slack_thread_ts == thread_ts).limit(1)
        ).scalar_one_or_none()
        if conversation is None:
            return None
        return _snapshot(conversation, session.get(Contact, conversation.contact_id))


def identities(contact_id: int) -> list[Identity]:
    with session_scope() as session:
        rows = session.execute(
            select(ChannelIdentity).where(ChannelIdentity.contact_id == contact_id).order_by(ChannelIdentity.id)
        ).scalars()
        return [Identity(r.channel, r.address, r.verified_by is not None) for r in rows]


def recent_messages(conversation_id: str, limit: int = 10) -> list[tuple[str, str]]:
    """(author, text) of the last public messages, oldest first."""
    with session_scope() as session:
        rows = session.execute(
            select(Message.author, Message.text)
            .where(Message.conversation_id == conversation_id, Message.private.is_(False))
            .order_by(Message.id.desc())
            .limit(limit)
        ).all()
        return [(author, text or "") for author, text in reversed(rows)]


def last_customer_text(conversation_id: str) -> str:
    with session_scope() as session:
        text = session.execute(
            select(Message.text)
            .where(Message.conversation_id == conversation_id, Message.author == "customer")
            .order_by(Message.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        return text or ""


def waiting() -> list[Snapshot]:
    """Conversations waiting for an agent (the queue; short by nature)."""
    with session_scope() as session:
        rows = session.execute(
            select(Conversation, Contact)
            .join(Contact, Contact.id == Conversation.contact_id)
            .where(Conversation.status == "waiting_agent")
        ).all()
        return [_snapshot(conversation, contact) for conversation, contact in rows]


# -- who holds the conversation -----------------------------------------------------------------
def claim(conversation_id: str, agent: str) -> bool:
    """waiting_agent -> agent for `agent`; False when someone else got there first."""
    with session_scope() as session:
        result = session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.status == "waiting_agent")
            .values(status="agent", assigned_agent=agent)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def finish(conversation_id: str, status: str, agent: str) -> bool:
    """Ends the agents' turn: `closed` (resolved, CSAT follows) or `bot` (returned, no CSAT).

    False when the conversation was no longer with the agents (a double click, two agents).
    """
    if status not in ("closed", "bot"):
        raise ValueError(status)
    with session_scope() as session:
        current = session.get(Conversation, conversation_id)
        if current is None or current.status not in WITH_PEOPLE:
            return False
        values: dict[str, Any] = {"status": status}
        if status == "closed":
            values.update(
                resolved_at=utcnow(), csat=None, csat_agent=None, assigned_agent=current.assigned_agent or agent
            )
        else:
            values.update(assigned_agent=None)
        result = session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.status == current.status)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def set_thread(conversation_id: str, ts: str) -> None:
    with session_scope() as session:
        session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(slack_thread_ts=ts)
            .execution_options(synchronize_session=False)
        )


def record_csat(conversation_id: str, score: int, within: dt.timedelta) -> tuple[bool, Optional[str]]:
    """Stores the survey answer once: (stored, rated agent); not stored when no survey is open."""
    since = utcnow() - within
    with session_scope() as session:
        current = session.get(Conversation, conversation_id)
        if current is None:
            return False, None
        agent = current.assigned_agent
        result = session.execute(
            update(Conversation)
            .where(
                Conversation.id == conversation_id,
                Conversation.status == "closed",
                Conversation.csat.is_(None),
                Conversation.resolved_at.is_not(None),
                Conversation.resolved_at >= since,
            )
            .values(csat=score, csat_agent=agent)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1, agent


def survey_open(conversation_id: str, within: dt.timedelta) -> bool:
    current = snapshot(conversation_id)
    return (
        current is not None
        and current.status == "closed"
        and current.csat is None
        and current.resolved_at is not None
        and current.resolved_at >= utcnow() - within
    )


# -- done-once markers --------------------------------------------------------------------------
def handoff_key(kind: str, current: Snapshot) -> str:
    """A key unique to one hand-off of one conversation (a later hand-off gets new keys)."""
    stamp = int(current.handed_off_at.timestamp() * 1000) if current.handed_off_at else 0
    return f"{kind}:{current.id}:{stamp}"


def mark(conversation_id: str, key: str, text: Optional[str] = None, payload: Optional[dict] = None,
         author: str = "system", direction: str = "out") -> bool:
    """Records that `key` was done; False when it already was (by a retry, another agent or task)."""
    try:
        with session_scope() as session:
            session.add(
                Message(
                    conversation_id=conversation_id,
                    direction=direction,
                    author=author,
                    channel=CHANNEL,
                    provider_message_id=key[:255],
                    text=text,
                    payload=payload,
                    private=True,
                    delivery_status="sent" if direction == "out" else "processed",
                )
            )
        return True
    except IntegrityError:
        return False


def is_marked(key: str) -> bool:
    with session_scope() as session:
        return session.execute(
            select(Message.id).where(Message.channel == CHANNEL, Message.provider_message_id == key[:255])
        ).first() is not None


def marker_payload(key: str) -> Optional[dict]:
    with session_scope() as session:
        return session.execute(
            select(Message.payload).where(Message.channel == CHANNEL, Message.provider_message_id == key[:255])
        ).scalar_one_or_none()


def unmark(key: str) -> None:
    """Forgets a marker whose action failed, so that it is tried again."""
    with session_scope() as session:
        session.execute(
            delete(Message).where(Message.channel == CHANNEL, Message.provider_message_id == key[:255])
        )
