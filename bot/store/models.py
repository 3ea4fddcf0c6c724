"""Tables of the shared conversation store: one contact, one history, one state across channels.

Modelled on Chatwoot's Contact / ContactInbox / Conversation / Message. The conversation id is
the Rasa sender_id, so every channel of one person feeds the same tracker.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import relationship, validates

from bot.db import Base, UTCDateTime, utcnow
from bot.store.normalize import canonical_phone, normalize_email

CHANNELS = ("webchat", "whatsapp", "telegram", "slack", "shell", "rest")
LANGUAGES = ("es", "en")
VERIFIERS = ("twilio_from", "telegram_contact", "web_hmac", "link_code", "session")
CONVERSATION_STATUSES = ("bot", "waiting_agent", "agent", "closed")
DIRECTIONS = ("in", "out")
AUTHORS = ("customer", "bot", "agent", "system")
DELIVERY_STATUSES = ("received", "processed", "pending", "sent", "delivered", "read", "failed", "refused")


def _one_of(column: str, values: tuple[str, ...], name: str, nullable: bool = False) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    condition = f"{column} IN ({listed})"
    if nullable:
        condition = f"{column} IS NULL OR {condition}"
    return CheckConstraint(condition, name=name)


class Contact(Base):
    """A person, whatever channels they use. Phone and email are only ever verified values."""

    __tablename__ = "contacts"
    __table_args__ = (_one_of("language", LANGUAGES, "language", nullable=True),)

    id = Column(Integer, primary_key=True)
    name = Column(String(200))
    language = Column(String(2))
    phone = Column(String(16), unique=True)
    email = Column(String(254), unique=True)
    is_distributor = Column(Boolean, nullable=False, default=False, server_default=false())
    distributor_id = Column(Integer)
    customer_id = Column(Integer)
    preferred_channel = Column(String(16))
    # Who verified the e-mail when a person did ("operator:ana", `contacts rectify`); unset when a
    # channel verified it (a signed web identity).
    email_verified_by = Column(String(200))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    identities = relationship("ChannelIdentity", back_populates="contact")
    conversations = relationship("Conversation", back_populates="contact")

    @validates("phone")
    def _canonical_phone(self, _key: str, value: Optional[str]) -> Optional[str]:
        return canonical_phone(value) if value else None

    @validates("email")
    def _normalized_email(self, _key: str, value: Optional[str]) -> Optional[str]:
        return normalize_email(value) if value else None

    def __repr__(self) -> str:
        return f"Contact(id={self.id!r}, name={self.name!r})"


class ChannelIdentity(Base):
    """One address on one channel (a WhatsApp number, a Telegram chat, a web session) of a contact."""

    __tablename__ = "channel_identities"
    __table_args__ = (
        UniqueConstraint("channel", "address"),
        _one_of("verified_by", VERIFIERS, "verified_by", nullable=True),
    )

    id = Column(Integer, primary_key=True)
    channel = Column(String(16), nullable=False)
    address = Column(String(255), nullable=False)
    contact_id = Column(Integer, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False, index=True)
    verified_by = Column(String(32))
    display_name = Column(String(200))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    last_seen_at = Column(UTCDateTime, nullable=False, default=utcnow)

    contact = relationship("Contact", back_populates="identities")

    def __repr__(self) -> str:
        return f"ChannelIdentity({self.channel}:{self.address} -> contact {self.contact_id})"


class Conversation(Base):
    """The one ongoing thread of a contact; `status` says who answers (bot, queue, agent)."""

    __tablename__ = "conversations"
    __table_args__ = (
        _one_of("status", CONVERSATION_STATUSES, "status"),
        _one_of("language", LANGUAGES, "language", nullable=True),
        CheckConstraint("csat IS NULL OR (csat BETWEEN 1 AND 5)", name="csat"),
        Index(None, "contact_id", "status"),
    )

    id = Column(String(64), primary_key=True)  # the Rasa sender_id
    contact_id = Column(Integer, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False)
    status = Column(String(16), nullable=False, default="bot", server_default="bot")
    language = Column(String(2))
    assigned_agent = Column(String(100))
    last_channel = Column(String(16))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    first_response_at = Column(UTCDateTime)
    handed_off_at = Column(UTCDateTime)
    resolved_at = Column(UTCDateTime)
    csat = Column(Integer)
    csat_agent = Column(String(100))
    # The fencing token of the latest turn that held this conversation's lock (bot/turn_lock.py):
    # a replica whose lease was taken over cannot store replies or dialogue events afterwards.
    fence = Column(BigInteger)
    # When its messages' text and dialogue state were last anonymised (an erasure, or retention:
    # bot/retention.py); a conversation idle past RETENTION_DAYS with no later message is done.
    anonymised_at = Column(UTCDateTime)

    contact = relationship("Contact", back_populates="conversations")
    messages = relationship("Message", back_populates="conversation", order_by="Message.id")

    def __repr__(self) -> str:
        return f"Conversation(id={self.id!r}, status={self.status!r})"


class Message(Base):
    """Every message in or out, written before it is processed or sent (the outbox lives here)."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "provider_message_id"),
        _one_of("direction", DIRECTIONS, "direction"),
        _one_of("author", AUTHORS, "author"),
        _one_of("delivery_status", DELIVERY_STATUSES, "delivery_status"),
        Index(None, "conversation_id", "id"),
        Index(None, "delivery_status", "next_attempt_at"),
        Index(None, "response", "created_at"),
    )

    id = Column(Integer, primary_key=True)
    conversation_id = Column(
        String(64), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
    )
    direction = Column(String(3), nullable=False)
    author = Column(String(16), nullable=False)
    channel = Column(String(16), nullable=False)
    provider_message_id = Column(String(255))
    text = Column(Text)
    payload = Column(JSON)
    private = Column(Boolean, nullable=False, default=False, server_default=false())
    delivery_status = Column(String(16), nullable=False, default="received", server_default="received")
    error = Column(Text)
    attempts = Column(Integer, nullable=False, default=0, server_default="0")
    next_attempt_at = Column(UTCDateTime)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    sent_at = Column(UTCDateTime)
    # The inbound message this reply answers: a turn run on another replica still has its answer.
    reply_to = Column(Integer, index=True)
    # Provider ids of the parts of a split reply already sent: a retry or a restart skips them.
    sent_parts = Column(JSON)
    # An inbound message's turn: when it began and ended, and on which replica (the proof that a
    # conversation's turns never overlap across replicas, and the bot's own response times).
    turn_started_at = Column(UTCDateTime)
    turn_ended_at = Column(UTCDateTime)
    processed_by = Column(String(100))
    # A bot reply's Rasa response (utter_...): the fallback's answers are recognised by it (KPIs).
    response = Column(String(64))

    conversation = relationship("Conversation", back_populates="messages")

    def __repr__(self) -> str:
        return f"Message(id={self.id!r}, {self.direction}/{self.author}, {self.delivery_status})"


class LinkCode(Base):
    """A short-lived, single-use code that proves a new channel belongs to an existing contact."""

    __tablename__ = "link_codes"

    id = Column(Integer, primary_key=True)
    code = Column(String(32), nullable=False, unique=True)
    contact_id = Column(Integer, ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = Column(UTCDateTime, nullable=False)
    used_at = Column(UTCDateTime)

    def is_live(self, now: Optional[dt.datetime] = None) -> bool:
        """Unused and not expired."""
        return self.used_at is None and (now or utcnow()) < self.expires_at


class LinkAttempt(Base):
    """One try at redeeming a link code, kept to rate-limit guessing per key (channel:address)."""

    __tablename__ = "link_attempts"
    __table_args__ = (Index(None, "key", "created_at"),)

    id = Column(Integer, primary_key=True)
    key = Column(String(300), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    success = Column(Boolean, nullable=False, default=False)


class StreamTicket(Base):
    """A single-use, short-lived ticket that opens one web chat live stream (bot/stream_tickets.py);
    only its hash is kept. Used when there is no Redis (REDIS_URL unset)."""

    __tablename__ = "stream_tickets"

    ticket_hash = Column(String(64), primary_key=True)
    address = Column(String(255), nullable=False)
    expires_at = Column(UTCDateTime, nullable=False, index=True)


class Job(Base):
    """Durable work a replica claims: processing a message, sending one, a timer (bot/jobs.py).

    A job is claimed by one owner (`claimed_by`) until `lease_until`; the owner renews the lease
    while it works, and a claim whose owner died is taken over once the lease has run out.
    """

    __tablename__ = "jobs"
    __table_args__ = (Index(None, "kind", "due_at"), Index(None, "kind", "ref"))

    id = Column(Integer, primary_key=True)
    kind = Column(String(32), nullable=False)
    ref = Column(String(64))  # what it is about: a message id, a conversation id
    key = Column(String(200), unique=True)  # at most one pending job per key (timers)
    payload = Column(JSON)
    due_at = Column(UTCDateTime, nullable=False, default=utcnow)
    claimed_by = Column(String(100))
    lease_until = Column(UTCDateTime)
    attempts = Column(Integer, nullable=False, default=0, server_default="0")
    last_error = Column(Text)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class AuditEntry(Base):
    """Who did what with customers' data, and when (bot/audit.py). Append-only: the database
    refuses UPDATE and DELETE (triggers, migration 0005). No foreign key: the entry outlives
    whatever becomes of the contact, whose id is all it keeps of them."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "at"), Index(None, "contact_id", "at"), Index(None, "actor", "at"))

    id = Column(Integer, primary_key=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow)
    actor = Column(String(200), nullable=False)  # agent:U123, operator:ana, admin:token, system:retention
    action = Column(String(64), nullable=False)  # handoff.claim, contacts.erase, ...
    contact_id = Column(Integer)
    detail = Column(JSON)  # ids and counts, never personal data


__all__ = [
    "AUTHORS",
    "AuditEntry",
    "CHANNELS",
    "CONVERSATION_STATUSES",
    "DELIVERY_STATUSES",
    "DIRECTIONS",
    "LANGUAGES",
    "VERIFIERS",
    "ChannelIdentity",
    "Contact",
    "Conversation",
    "Job",
    "LinkAttempt",
    "LinkCode",
    "Message",
    "StreamTicket",
]
