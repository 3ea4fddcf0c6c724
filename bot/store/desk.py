"""The agents' desk in the store: who holds a conversation, its thread at the desk, done-once facts.

The desk (Slack today, connectors/slack/) keeps no SQL of its own: it asks here. State changes
that two agents (or a provider's retry) can race on are single conditional UPDATEs or INSERTs
against a unique key, so the database decides who wins, in one process or several.

`desk_threads` is the desk's own table: the thread where the current hand-off of a conversation
is worked (Slack's message ts). `desk_posts` lists every message at the desk about a conversation
(the desk's own posts and agents' replies in its threads): what erasing the person, or retention,
deletes there through `desk_erase` jobs (the desk registers their handler). "Done once" facts (thread posted, reminder sent, agent message
relayed) are private messages on the desk's channel whose provider_message_id is the unique key.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from sqlalchemy import Column, ForeignKey, Index, Integer, String, UniqueConstraint, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import jobs
from bot.db import Base, UTCDateTime, session_scope, utcnow
from bot.store.models import ChannelIdentity, Contact, Conversation, Message

WITH_PEOPLE = ("waiting_agent", "agent")
POST_KINDS = ("summary", "relay", "notice", "agent")
ERASE_JOB = "desk_erase"  # deletes one message at the desk (ref: channel:ts); the desk handles it


class DeskThread(Base):
    """The thread at the agents' desk where a conversation's current hand-off is worked."""

    __tablename__ = "desk_threads"

    conversation_id = Column(String(64), ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True)
    thread_ts = Column(String(32), nullable=False, index=True)

    def __repr__(self) -> str:
        return f"DeskThread({self.conversation_id!r} -> {self.thread_ts!r})"


class DeskPost(Base):
    """A message at the agents' desk about a conversation: the hand-off summary, a customer's words
    relayed, a notice of the desk in the thread, or an agent's reply there."""

    __tablename__ = "desk_posts"
    __table_args__ = (UniqueConstraint("channel", "ts"), Index(None, "conversation_id"))

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(64), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False)
    channel = Column(String(32), nullable=False)
    ts = Column(String(32), nullable=False)
    kind = Column(String(16), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


@dataclass(frozen=True)
class Post:
    """One message at the desk, as erasure needs it."""

    conversation_id: str
    channel: str
    ts: str
    kind: str
    posted_at: dt.datetime


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
    thread_ts: Optional[str]
    csat: Optional[int]
    contact_id: int
    name: Optional[str]
    phone: Optional[str]
    email: Optional[str]
    is_distributor: bool


@dataclass(frozen=True)
class ChannelAddress:
    """One of the contact's channel addresses, as the desk's summary lists them."""

    channel: str
    address: str
    verified: bool


def _snapshot(conversation: Conversation, contact: Optional[Contact], thread_ts: Optional[str]) -> Snapshot:
    language = conversation.language or (contact.language if contact else None) or "es"
    return Snapshot(
        id=conversation.id,
        status=conversation.status,
        language=language if language in ("es", "en") else "es",
        last_channel=conversation.last_channel,
        assigned_agent=conversation.assigned_agent,
        handed_off_at=conversation.handed_off_at,
        resolved_at=conversation.resolved_at,
        thread_ts=thread_ts,
        csat=conversation.csat,
        contact_id=conversation.contact_id,
        name=contact.name if contact else None,
        phone=contact.phone if contact else None,
        email=contact.email if contact else None,
        is_distributor=bool(contact.is_distributor) if contact else False,
    )


def _with_thread():  # type: ignore[no-untyped-def]
    """Conversations with their contact and desk thread (both may be missing)."""
    return (
        select(Conversation, Contact, DeskThread.thread_ts)
        .outerjoin(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(DeskThread, DeskThread.conversation_id == Conversation.id)
    )


def snapshot(conversation_id: str) -> Optional[Snapshot]:
    """The conversation as the desk sees it, or None when there is no such conversation."""
    with session_scope() as session:
        row = session.execute(_with_thread().where(Conversation.id == conversation_id)).first()
        return _snapshot(*row) if row is not None else None


def by_thread(thread_ts: str) -> Optional[Snapshot]:
    """The conversation whose current desk thread starts at `thread_ts`."""
    with session_scope() as session:
        row = session.execute(_with_thread().where(DeskThread.thread_ts == thread_ts).limit(1)).first()
        return _snapshot(*row) if row is not None else None


def thread_of(conversation_id: str) -> Optional[str]:
    """The desk thread of the conversation's current (or last) hand-off."""
    with session_scope() as session:
        return session.execute(
            select(DeskThread.thread_ts).where(DeskThread.conversation_id == conversation_id)
        ).scalar_one_or_none()


def set_thread(conversation_id: str, thread_ts: str) -> None:
    """Records the thread of the current hand-off; a later hand-off's thread replaces it."""
    with session_scope() as session:
        changed = session.execute(
            update(DeskThread)
            .where(DeskThread.conversation_id == conversation_id)
            .values(thread_ts=thread_ts)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not changed:
            session.add(DeskThread(conversation_id=conversation_id, thread_ts=thread_ts))


# -- what the desk holds about a conversation ---------------------------------------------------
def record_post(conversation_id: str, channel: str, ts: str, kind: str) -> None:
    """Remembers a message at the desk about the conversation (recorded once per channel and ts)."""
    if kind not in POST_KINDS:
        raise ValueError(kind)
    try:
        with session_scope() as session:
            session.add(DeskPost(conversation_id=conversation_id, channel=channel, ts=ts, kind=kind))
    except IntegrityError:
        pass  # already recorded (a retried event)


def posts_of(conversation_ids: Iterable[str], session: Optional[Session] = None) -> list[Post]:
    """The messages at the desk about these conversations, oldest first (in the caller's
    transaction when `session` is given)."""
    ids = list(conversation_ids)
    if not ids:
        return []
    query = select(DeskPost).where(DeskPost.conversation_id.in_(ids)).order_by(DeskPost.id)
    if session is not None:
        return [Post(r.conversation_id, r.channel, r.ts, r.kind, r.created_at) for r in session.execute(query).scalars()]
    with session_scope() as own:
        return posts_of(ids, own)


def forget_post(channel: str, ts: str) -> None:
    """A message deleted (or blanked) at the desk: nothing of it is left there to erase."""
    with session_scope() as session:
        session.execute(delete(DeskPost).where(DeskPost.channel == channel, DeskPost.ts == ts))


def erase_later(posts: Iterable[Post], contact_id: Optional[int], session: Optional[Session] = None,
                due_at: Optional[dt.datetime] = None) -> int:
    """A durable `desk_erase` job per message (once per message, however often asked); returns
    how many were new. The desk's handler deletes them, and tries again while it fails."""
    def add_all(s: Session) -> int:
        added = 0
        for post in posts:
            ref = f"{post.channel}:{post.ts}"
            payload = {"channel": post.channel, "ts": post.ts, "kind": post.kind, "contact_id": contact_id}
            added += jobs.add(s, ERASE_JOB, ref[:64], due_at=due_at, key=f"{ERASE_JOB}:{ref}", payload=payload) is not None
        return added

    if session is not None:
        return add_all(session)
    with session_scope() as own:
        return add_all(own)


def identities(contact_id: int) -> list[ChannelAddress]:
    """The contact's channel addresses, oldest first."""
    with session_scope() as session:
        rows = session.execute(
            select(ChannelIdentity).where(ChannelIdentity.contact_id == contact_id).order_by(ChannelIdentity.id)
        ).scalars()
        return [ChannelAddress(r.channel, r.address, r.verified_by is not None) for r in rows]


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
    """What the customer last wrote (the after-hours ticket quotes it)."""
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
        rows = session.execute(_with_thread().where(Conversation.status == "waiting_agent")).all()
        return [_snapshot(*row) for row in rows]


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


# -- done-once markers --------------------------------------------------------------------------
def handoff_key(kind: str, current: Snapshot) -> str:
    """A key unique to one hand-off of one conversation (a later hand-off gets new keys)."""
    stamp = int(current.handed_off_at.timestamp() * 1000) if current.handed_off_at else 0
    return f"{kind}:{current.id}:{stamp}"


class Markers:
    """Done-once facts of one desk, kept as private messages on the desk's channel."""

    def __init__(self, channel: str) -> None:
        self.channel = channel

    def mark(self, conversation_id: str, key: str, text: Optional[str] = None, payload: Optional[dict] = None,
             author: str = "system", direction: str = "out") -> bool:
        """Records that `key` was done; False when it already was (by a retry, another agent or task)."""
        try:
            with session_scope() as session:
                session.add(
                    Message(
                        conversation_id=conversation_id,
                        direction=direction,
                        author=author,
                        channel=self.channel,
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

    def is_marked(self, key: str) -> bool:
        """Whether `key` was done."""
        with session_scope() as session:
            return session.execute(select(Message.id).where(*self._is(key))).first() is not None

    def payload(self, key: str) -> Optional[dict]:
        """What was recorded with `key`, if it was done."""
        with session_scope() as session:
            return session.execute(select(Message.payload).where(*self._is(key))).scalar_one_or_none()

    def unmark(self, key: str) -> None:
        """Forgets a marker whose action failed, so that it is tried again."""
        with session_scope() as session:
            session.execute(delete(Message).where(*self._is(key)))

    def _is(self, key: str) -> tuple:
        return Message.channel == self.channel, Message.provider_message_id == key[:255]
