"""Proactive order notices in the store: the events the ERP sent, one notice per event and person,
and each person's consent to receive them.

The business (who owns an order, what is in it) stays above the core: callers pass an `Owner`
they got from it. What the core keeps is what it needs to send each notice exactly once, at the
right hour, to someone who did not say stop, and to count what became of it:

- `order_events`: every event once (its `event_id` is unique: a replayed event changes nothing);
- `notices`: the notice of one event to one contact, with its timer job (bot/jobs.py, key
  `notice:<event>:<contact>`), the reply that carried it, and the customer's choice afterwards
  (wait, an alternative, ship what is ready, a person): recorded on the order's notice;
- `notice_consents`: every "stop" and "send me notices again", with when and where it was said;
  the latest one counts.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable, Optional

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    delete,
    false,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import jobs
from bot.db import Base, UTCDateTime, session_scope, utcnow
from bot.store.models import ChannelIdentity, Contact, Conversation, Message, _one_of
from bot.store.normalize import normalize_email, phone_variants

EVENT_TYPES = ("delayed", "shipped", "delivered", "ready_for_pickup")
EVENT_SOURCES = ("api", "cli", "overdue")
# scheduled: its job waits; sent: its reply is stored (the reply's delivery_status says what the
# provider did with it); opted_out: the person had said stop; unreachable: no channel to reach them.
NOTICE_STATUSES = ("scheduled", "sent", "opted_out", "unreachable")
CHOICES = ("wait", "alternative", "ship_ready", "person")
NOTICE_JOB = "order_notice"  # the timer of one notice (ref: the notice's id)


class OrderEventRow(Base):
    """One change of an order the ERP told us about (or the overdue check found), stored once."""

    __tablename__ = "order_events"
    __table_args__ = (_one_of("type", EVENT_TYPES, "type"), _one_of("source", EVENT_SOURCES, "source"))

    id = Column(Integer, primary_key=True)
    event_id = Column(String(100), nullable=False, unique=True)
    order_id = Column(String(32), nullable=False, index=True)
    type = Column(String(24), nullable=False)
    reason = Column(Text)
    expected_date = Column(Date)
    carrier = Column(String(100))
    tracking_number = Column(String(100))
    source = Column(String(16), nullable=False)
    received_at = Column(UTCDateTime, nullable=False, default=utcnow)


class Notice(Base):
    """The notice of one order event to one person, and what they chose afterwards."""

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("event_id", "contact_id"),
        _one_of("status", NOTICE_STATUSES, "status"),
        _one_of("choice", CHOICES, "choice", nullable=True),
    )

    id = Column(Integer, primary_key=True)
    event_id = Column(Integer, ForeignKey("order_events.id", ondelete="CASCADE"), nullable=False)
    # SET NULL: erasing a person (ops/privacy.py) keeps the count of notices, not who got them.
    contact_id = Column(Integer, ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    order_id = Column(String(32), nullable=False, index=True)
    status = Column(String(16), nullable=False, default="scheduled", server_default="scheduled")
    time_zone = Column(String(64), nullable=False)  # the person's, for the quiet hours
    due_at = Column(UTCDateTime, nullable=False)
    channel = Column(String(16))
    message_id = Column(Integer, index=True)  # the stored reply that carried it
    template = Column(Boolean, nullable=False, default=False, server_default=false())  # sent as an approved template
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    sent_at = Column(UTCDateTime)
    choice = Column(String(16))
    chosen_at = Column(UTCDateTime)
    ticket_id = Column(String(32))  # the ticket (or hand-off) the choice opened


class NoticeConsent(Base):
    """A person said stop (opted_in false) or asked for notices again (true); the latest counts."""

    __tablename__ = "notice_consents"

    id = Column(Integer, primary_key=True)
    contact_id = Column(Integer, ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    opted_in = Column(Boolean, nullable=False)
    channel = Column(String(16))
    at = Column(UTCDateTime, nullable=False, default=utcnow)


# -- what callers pass in and get back -------------------------------------------------------------
@dataclass(frozen=True)
class OrderEvent:
    """An order event as the ERP (or an operator) states it; only the first three are required."""

    event_id: str
    order_id: str
    type: str
    reason: Optional[str] = None
    expected_date: Optional[dt.date] = None
    carrier: Optional[str] = None
    tracking_number: Optional[str] = None


@dataclass(frozen=True)
class Owner:
    """Who an order belongs to, as the business knows them (the core cannot ask it)."""

    customer_id: int
    name: Optional[str] = None
    phone: Optional[str] = None
    email: Optional[str] = None
    time_zone: Optional[str] = None  # None: the default zone (bot/notices.py)


@dataclass(frozen=True)
class Recorded:
    """What storing an event did: `new` False for a replay; the notices it scheduled."""

    new: bool
    notices: tuple[int, ...] = ()


@dataclass(frozen=True)
class Plan:
    """What a notice's job should do now, read in one transaction."""

    action: str  # send | done | opted_out | unreachable | later
    conversation_id: Optional[str] = None
    channel: Optional[str] = None
    time_zone: str = "America/Mexico_City"
    language: Optional[str] = None  # the person's, when known


@dataclass(frozen=True)
class Details:
    """What the dialogue needs to say a notice (actions/notices.py)."""

    notice_id: int
    contact_id: Optional[int]
    event: OrderEvent
    language: Optional[str]
    first: bool  # no notice was sent to this person before: this one says how to stop them
    choice: Optional[str]


# -- events in ------------------------------------------------------------------------------------
DueAt = Callable[[str], dt.datetime]  # a person's time zone -> when their notice may go


def record_event(event: OrderEvent, owner: Optional[Owner], source: str, zone_of: Callable[[Owner], str],
                 due_at: DueAt) -> Recorded:
    """Stores the event and, for its owner, the notice and its timer, in one transaction.

    A replayed `event_id` stores nothing (Recorded(new=False)). The owner's contact is the one
    holding their phone or e-mail (the most recently seen when both exist); one who never wrote
    to us gets a contact with a WhatsApp address at their phone. Two first events of one person
    racing are retried.
    """
    for attempt in range(3):
        try:
            with session_scope() as session:
                row = _insert_event(session, event, source)
                if row is None:
                    return Recorded(False)
                contact = _owner_contact(session, owner) if owner is not None else None
                if contact is None:
                    return Recorded(True)
                zone = zone_of(owner)  # type: ignore[arg-type]
                notice = Notice(event_id=row, contact_id=contact.id, order_id=event.order_id, time_zone=zone,
                                due_at=due_at(zone))
                session.add(notice)
                session.flush()
                jobs.add(session, NOTICE_JOB, str(notice.id), due_at=notice.due_at, key=f"notice:{row}:{contact.id}")
                return Recorded(True, (notice.id,))
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _insert_event(session: Session, event: OrderEvent, source: str) -> Optional[int]:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    values = dict(event_id=event.event_id, order_id=event.order_id, type=event.type, reason=event.reason,
                  expected_date=event.expected_date, carrier=event.carrier, tracking_number=event.tracking_number,
                  source=source, received_at=utcnow())
    added = session.execute(
        dialect.insert(OrderEventRow).values(**values).on_conflict_do_nothing(index_elements=["event_id"]))
    if not added.rowcount:
        return None
    return session.execute(select(OrderEventRow.id).where(OrderEventRow.event_id == event.event_id)).scalar_one()


def _owner_contact(session: Session, owner: Owner) -> Optional[Contact]:
    phones = phone_variants(owner.phone) if owner.phone else []
    email = _email(owner.email)
    clauses = []
    if phones:
        clauses.append(Contact.phone.in_(phones))
    if email:
        clauses.append(Contact.email == email)
    found = [c for clause in clauses for c in session.execute(select(Contact).where(clause)).scalars()]
    if found:
        return max(found, key=lambda c: _last_seen(session, c.id))
    if not phones:
        return None
    contact = Contact(name=owner.name, phone=phones[0], email=email, customer_id=owner.customer_id)
    session.add(contact)
    session.flush()
    # A WhatsApp address at their phone (unverified: the business's record, not the provider's).
    session.add(ChannelIdentity(channel="whatsapp", address=owner.phone.strip(), contact_id=contact.id,
                                display_name=owner.name))
    session.flush()
    return contact


def _email(raw: Optional[str]) -> Optional[str]:
    try:
        return normalize_email(raw) if raw else None
    except ValueError:
        return None


def _last_seen(session: Session, contact_id: int) -> dt.datetime:
    seen = session.execute(
        select(ChannelIdentity.last_seen_at).where(ChannelIdentity.contact_id == contact_id)
        .order_by(ChannelIdentity.last_seen_at.desc()).limit(1)
    ).scalar_one_or_none()
    return seen or dt.datetime.min.replace(tzinfo=dt.timezone.utc)


# -- a notice's job -------------------------------------------------------------------------------
def plan(notice_id: int) -> Plan:
    """Whether the notice goes now: not twice, not to someone who said stop, and where to."""
    with session_scope() as session:
        notice = session.get(Notice, notice_id)
        if notice is None or notice.status != "scheduled" or notice.contact_id is None:
            return Plan("done")
        if opted_out(session, notice.contact_id):
            return Plan("opted_out")
        conversation = _conversation_of(session, notice.contact_id)
        if conversation is None:
            return Plan("unreachable")
        if conversation.status in ("waiting_agent", "agent"):
            return Plan("later", conversation.id, time_zone=notice.time_zone)
        contact = session.get(Contact, notice.contact_id)
        language = conversation.language or (contact.language if contact else None)
        return Plan("send", conversation.id, conversation.last_channel or "whatsapp", notice.time_zone, language)


def _conversation_of(session: Session, contact_id: int) -> Optional[Conversation]:
    """The contact's one conversation; created (on WhatsApp) for a person who never wrote."""
    conversation = session.execute(
        select(Conversation).where(Conversation.contact_id == contact_id)
        .order_by(Conversation.created_at.desc()).limit(1)
    ).scalar_one_or_none()
    if conversation is not None:
        return conversation
    whatsapp = session.execute(
        select(ChannelIdentity.id).where(ChannelIdentity.contact_id == contact_id, ChannelIdentity.channel == "whatsapp")
    ).first()
    if whatsapp is None:
        return None
    from bot.conversations import new_conversation_id  # the store's own helper; imported late (cycle)

    conversation = Conversation(id=new_conversation_id(), contact_id=contact_id, last_channel="whatsapp")
    session.add(conversation)
    session.flush()
    return conversation


def close(notice_id: int, status: Optional[str] = None) -> None:
    """A notice's job is done: the notice will not be sent (`status` opted_out or unreachable), or
    nothing is left to do (None: sent already, or its person erased)."""
    with session_scope() as session:
        if status is not None:
            session.execute(update(Notice).where(Notice.id == notice_id, Notice.status == "scheduled")
                            .values(status=status))
        jobs.settle(session, NOTICE_JOB, str(notice_id))


def postpone(notice_id: int, due_at: dt.datetime) -> None:
    """The notice waits (quiet hours, a person holds the conversation): its job is due at `due_at`."""
    with session_scope() as session:
        session.execute(update(Notice).where(Notice.id == notice_id).values(due_at=due_at))
        jobs.settle(session, NOTICE_JOB, str(notice_id), due_at)


class AlreadySent(Exception):
    """Another run stored this notice's reply first: this run's replies are not stored."""


def mark_sent(notice_id: int, channel: str, session: Session, message_ids: list[int]) -> None:
    """Inside the transaction that stores the notice's replies: records them and settles the job.

    Raises AlreadySent (rolling the replies back) when a run of the same notice got there first,
    so a notice is stored, and sent, once whichever replica runs it and however often.
    """
    done = session.execute(
        update(Notice).where(Notice.id == notice_id, Notice.message_id.is_(None))
        .values(status="sent", message_id=message_ids[0] if message_ids else None, channel=channel, sent_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not done:
        raise AlreadySent(notice_id)
    jobs.settle(session, NOTICE_JOB, str(notice_id))


def sent_as_template(message_id: int) -> None:
    """The channel could only send the notice as its approved template (WhatsApp outside the 24-hour
    window): the full message, options included, is shown once the customer answers (bot/hub.py)."""
    with session_scope() as session:
        session.execute(update(Notice).where(Notice.message_id == message_id).values(template=True))
        message = session.get(Message, message_id)
        if message is not None:
            message.payload = {**(message.payload or {}), "condensed": True}


# -- what the dialogue reads and records ------------------------------------------------------------
def details(notice_id: int) -> Optional[Details]:
    """The notice and its event, for the action that says it; None when it is gone."""
    with session_scope() as session:
        found = session.execute(
            select(Notice, OrderEventRow).join(OrderEventRow, OrderEventRow.id == Notice.event_id)
            .where(Notice.id == notice_id)
        ).first()
        if found is None:
            return None
        notice, row = found
        event = OrderEvent(row.event_id, row.order_id, row.type, row.reason, row.expected_date, row.carrier,
                           row.tracking_number)
        language, first = None, True
        if notice.contact_id is not None:
            contact = session.get(Contact, notice.contact_id)
            conversation = _conversation_of(session, notice.contact_id)
            language = (conversation.language if conversation else None) or (contact.language if contact else None)
            first = session.execute(
                select(Notice.id).where(Notice.contact_id == notice.contact_id, Notice.status == "sent",
                                        Notice.id != notice_id).limit(1)
            ).first() is None
        return Details(notice.id, notice.contact_id, event, language, first, notice.choice)


def record_choice(notice_id: int, contact_id: int, choice: str, ticket_id: Optional[str] = None) -> bool:
    """The customer's answer to a notice, recorded on it (only by the person it was for)."""
    if choice not in CHOICES:
        raise ValueError(f"unknown choice {choice!r}")
    with session_scope() as session:
        return session.execute(
            update(Notice).where(Notice.id == notice_id, Notice.contact_id == contact_id)
            .values(choice=choice, chosen_at=utcnow(), ticket_id=ticket_id)
            .execution_options(synchronize_session=False)
        ).rowcount > 0


def contact_of(conversation_id: str) -> Optional[int]:
    with session_scope() as session:
        return session.scalar(select(Conversation.contact_id).where(Conversation.id == conversation_id))


# -- consent --------------------------------------------------------------------------------------
def set_consent(contact_id: int, opted_in: bool, channel: Optional[str], at: Optional[dt.datetime] = None) -> None:
    """Records "stop" (False) or "send me notices" (True), with when and on which channel."""
    with session_scope() as session:
        session.add(NoticeConsent(contact_id=contact_id, opted_in=opted_in, channel=channel, at=at or utcnow()))


def opted_out(session: Session, contact_id: int) -> bool:
    latest = session.execute(
        select(NoticeConsent.opted_in).where(NoticeConsent.contact_id == contact_id)
        .order_by(NoticeConsent.at.desc(), NoticeConsent.id.desc()).limit(1)
    ).scalar_one_or_none()
    return latest is False


def move_contact(session: Session, source_id: int, target_id: int) -> None:
    """Two contacts became one (bot/conversations.py merge_contacts): notices and consents follow.
    A notice of an event both had is kept once (the target's)."""
    both = select(Notice.event_id).where(Notice.contact_id == target_id)
    session.execute(delete(Notice).where(Notice.contact_id == source_id, Notice.event_id.in_(both))
                    .execution_options(synchronize_session=False))
    for table in (Notice, NoticeConsent):
        session.execute(update(table).where(table.contact_id == source_id).values(contact_id=target_id)
                        .execution_options(synchronize_session=False))


# -- a person's records (ops/privacy.py) and the operators' counts ---------------------------------
def records_of(contact_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every notice and consent of one person, JSON-ready."""
    with session_scope() as session:
        notices = session.execute(
            select(Notice, OrderEventRow.type).join(OrderEventRow, OrderEventRow.id == Notice.event_id)
            .where(Notice.contact_id == contact_id).order_by(Notice.id)
        ).all()
        consents = session.execute(
            select(NoticeConsent).where(NoticeConsent.contact_id == contact_id).order_by(NoticeConsent.id)
        ).scalars().all()
        return {
            "notices": [_notice_json(n, kind) for n, kind in notices],
            "notice_consents": [{"opted_in": c.opted_in, "channel": c.channel, "at": _iso(c.at)} for c in consents],
        }


def _iso(value: Optional[dt.datetime]) -> Optional[str]:
    return value.isoformat() if value else None


def _notice_json(notice: Notice, kind: str) -> dict[str, Any]:
    return {"order_id": notice.order_id, "event": kind, "status": notice.status, "channel": notice.channel,
            "sent_at": _iso(notice.sent_at), "choice": notice.choice, "chosen_at": _iso(notice.chosen_at),
            "ticket_id": notice.ticket_id}


def forget(contact_id: int) -> dict[str, int]:
    """Unlinks a person from their notices and consents: the counts stay, who it was does not."""
    with session_scope() as session:
        counts = {}
        for name, table in (("notices", Notice), ("notice_consents", NoticeConsent)):
            counts[name] = session.execute(
                update(table).where(table.contact_id == contact_id).values(contact_id=None)
                .execution_options(synchronize_session=False)
            ).rowcount
        return counts


@dataclass(frozen=True)
class Sent:
    """One notice that went out (or was refused), for the operators' counts."""

    at: dt.datetime
    channel: str
    delivery_status: str


def sent_since(since: dt.datetime) -> list[Sent]:
    """Notices stored for sending since `since`, with what the provider did with each."""
    with session_scope() as session:
        rows = session.execute(
            select(Notice.sent_at, Notice.channel, Message.delivery_status)
            .join(Message, Message.id == Notice.message_id)
            .where(Notice.sent_at >= since)
        ).all()
        return [Sent(at, channel or "-", status) for at, channel, status in rows]


def opt_outs_since(since: dt.datetime) -> list[tuple[dt.datetime, str]]:
    """(when, channel) of each "stop" since `since`."""
    with session_scope() as session:
        rows = session.execute(
            select(NoticeConsent.at, NoticeConsent.channel)
            .where(NoticeConsent.opted_in.is_(False), NoticeConsent.at >= since)
        ).all()
        return [(at, channel or "-") for at, channel in rows]
