"""Store operations the hub needs: who is writing, which conversation, what was said.

Every function is one short, synchronous transaction; async callers go through `bot.db.call`,
which runs them in place on SQLite and on the store's threads on PostgreSQL. The hub's
hot path uses the merged ones (`accept`, `begin_turn`, `add_outbound`, `finish_turn`): one
message with one reply costs five transactions of ours instead of eleven, because each
transaction's fixed cost (session, BEGIN, COMMIT, ORM bookkeeping) dominated the work inside.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import jobs
from bot.db import session_scope, utcnow
from bot.messages import Button, Inbound, Outbound
from bot.store import cycles
from bot.store import notices as notice_store
from bot.store.models import ChannelIdentity, Contact, Conversation, Message
from bot.store.desk import DeskPost
from bot.store.normalize import canonical_phone, normalize_email
from bot.turn_lock import LeaseLost

INBOUND_JOB = "inbound"  # the job of processing one stored inbound message (ref: its id)
DELIVER_JOB = "deliver"  # the job of sending one stored reply (ref: its id)


class MergeConflict(Exception):
    """Two contacts hold different verified phones or emails: they are not the same person."""


class Duplicate(Exception):
    """The provider delivered a message we already have (a retry)."""


@dataclass(frozen=True)
class Turn:
    """What one turn needs to know before routing, read in one transaction."""

    status: Optional[str]  # None when the conversation is gone (erased meanwhile)
    language: Optional[str]
    buttons: tuple[Button, ...]  # the options of our latest message, if nobody spoke since
    offered: frozenset[str]  # payloads of our recent buttons (only read when asked for)
    message_status: Optional[str] = "received"  # of the turn's message: "answered" by a turn elsewhere
    earlier: tuple[tuple[int, str, str, Optional[str]], ...] = ()  # see waiting_before
    # Our latest message, if nobody spoke since and its channel could only show it condensed (a
    # notice sent as WhatsApp's approved template): the customer's answer gets it in full.
    condensed: Optional[Outbound] = None


@dataclass(frozen=True)
class Party:
    """The contact and conversation an inbound message belongs to."""

    contact_id: int
    conversation_id: str
    status: str
    language: Optional[str]
    identity_id: int


def new_conversation_id() -> str:
    return "c-" + uuid.uuid4().hex


def is_duplicate(channel: str, provider_message_id: Optional[str]) -> bool:
    if not provider_message_id:
        return False
    with session_scope() as session:
        return _seen(session, channel, provider_message_id)


def _seen(session: Session, channel: str, provider_message_id: str) -> bool:
    return session.execute(
        select(Message.id).where(Message.channel == channel, Message.provider_message_id == provider_message_id)
    ).first() is not None


def accept(inbound: Inbound, text: str, owner: Optional[str] = None,
           at: Optional[dt.datetime] = None) -> Optional[tuple[Party, int, Optional[int]]]:
    """Dedupe, resolve and store in one transaction: (party, message id, its processing job id),
    or None for a provider's retry. The message's session is kept in the same transaction.

    When this returns, the message is committed: nothing acts on a message before that. `at`:
    when it arrived (default now; tests pass their clock).
    """
    phone = canonical_phone(inbound.verified_phone) if inbound.verified_phone else None
    email = normalize_email(inbound.verified_email) if inbound.verified_email else None
    for attempt in range(3):
        try:
            with session_scope() as session:
                if inbound.provider_message_id and _seen(session, inbound.channel, inbound.provider_message_id):
                    return None
                party = _resolve(session, inbound, phone, email)
                message = _inbound_message(party, inbound, text, at or utcnow())
                session.add(message)
                session.flush()
                cycles.customer_message(session, party.conversation_id, inbound.channel, message.created_at,
                                        party.status)
                # Its processing is durable work, claimed from birth by the replica that stored it.
                job_id = jobs.add(session, INBOUND_JOB, str(message.id), owner=owner)
                return party, message.id, job_id
        except IntegrityError:
            # A provider's retry, or two first messages of one person (or of one session) raced with this one.
            if inbound.provider_message_id and is_duplicate(inbound.channel, inbound.provider_message_id):
                return None
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _open_conversation(session: Session, contact_id: int, channel: str) -> Conversation:
    """The contact's one conversation (created on first contact).

    A contact keeps one conversation across channels and over time: the Rasa tracker, and with it
    the dialogue state and the language, continue. A closed conversation reopens on the next
    message (the hub does that after giving interceptors such as the CSAT survey a look).
    """
    conversation = session.execute(
        select(Conversation)
        .where(Conversation.contact_id == contact_id)
        .order_by(Conversation.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    if conversation is None:
        conversation = Conversation(id=new_conversation_id(), contact_id=contact_id, last_channel=channel)
        session.add(conversation)
        session.flush()
    return conversation


def reopen(conversation_id: str) -> None:
    """A closed conversation goes back to the bot when the customer writes again."""
    with session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is not None and conversation.status == "closed":
            conversation.status = "bot"
            conversation.assigned_agent = None


def merge_contacts(session: Session, source: Contact, target: Contact) -> None:
    """Moves everything of `source` into `target` and deletes `source`, in the caller's transaction."""
    if source.id == target.id:
        return
    if source.phone and target.phone and source.phone != target.phone:
        raise MergeConflict("different verified phones")
    if source.email and target.email and source.email != target.email:
        raise MergeConflict("different verified emails")
    keep = _open_conversation(session, target.id, target.preferred_channel or "webchat")
    source_conversations = [
        c.id for c in session.execute(select(Conversation).where(Conversation.contact_id == source.id)).scalars()
    ]
    cycles.move(session, source_conversations, keep.id)
    if source_conversations:
        session.execute(
            update(Message)
            .where(Message.conversation_id.in_(source_conversations))
            .values(conversation_id=keep.id)
            .execution_options(synchronize_session=False)
        )
        # The desk's messages about them follow (erasing the person must still find them).
        session.execute(
            update(DeskPost)
            .where(DeskPost.conversation_id.in_(source_conversations))
            .values(conversation_id=keep.id)
            .execution_options(synchronize_session=False)
        )
    session.execute(
        update(ChannelIdentity)
        .where(ChannelIdentity.contact_id == source.id)
        .values(contact_id=target.id)
        .execution_options(synchronize_session=False)
    )
    notice_store.move_contact(session, source.id, target.id)
    phone, email, name, language = source.phone, source.email, source.name, source.language
    email_verified_by = source.email_verified_by
    distributor = bool(source.is_distributor)
    for conversation_id in source_conversations:
        session.delete(session.get(Conversation, conversation_id))
    session.flush()
    session.delete(source)
    session.flush()
    target.phone = target.phone or phone
    if email and not target.email:
        target.email, target.email_verified_by = email, email_verified_by
    target.name = target.name or name
    target.language = target.language or language
    target.is_distributor = bool(target.is_distributor or distributor)


def _contact_with(session: Session, phone: Optional[str], email: Optional[str]) -> Optional[Contact]:
    if phone:
        found = session.execute(select(Contact).where(Contact.phone == phone)).scalar_one_or_none()
        if found:
            return found
    if email:
        return session.execute(select(Contact).where(Contact.email == email)).scalar_one_or_none()
    return None


def resolve(inbound: Inbound) -> Party:
    """The contact and open conversation of (channel, address), creating or linking them.

    A verified phone or email joins the identity to the contact that already holds it; an
    unverified claim never does.
    """
    phone = canonical_phone(inbound.verified_phone) if inbound.verified_phone else None
    email = normalize_email(inbound.verified_email) if inbound.verified_email else None
    for attempt in range(3):
        try:
            with session_scope() as session:
                return _resolve(session, inbound, phone, email)
        except IntegrityError:
            # Two first messages of the same person raced; the other one created the rows.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _resolve(session: Session, inbound: Inbound, phone: Optional[str], email: Optional[str]) -> Party:
    identity = session.execute(
        select(ChannelIdentity).where(
            ChannelIdentity.channel == inbound.channel, ChannelIdentity.address == inbound.address
        )
    ).scalar_one_or_none()
    owner = _contact_with(session, phone, email)
    if identity is None:
        contact = owner or Contact(name=inbound.display_name, phone=phone, email=email)
        if contact.id is None:
            session.add(contact)
            session.flush()
        identity = ChannelIdentity(
            channel=inbound.channel,
            address=inbound.address,
            contact_id=contact.id,
            verified_by=inbound.verified_by if (phone or email) else None,
            display_name=inbound.display_name,
        )
        session.add(identity)
        session.flush()
    else:
        contact = session.get(Contact, identity.contact_id)
        if owner is not None and owner.id != contact.id:
            try:
                with session.begin_nested():
                    merge_contacts(session, source=contact, target=owner)
                contact = owner
            except MergeConflict:
                pass  # two different people: the identity stays where it was
        elif phone and not contact.phone:
            contact.phone = phone
        elif email and not contact.email:
            contact.email = email
        if phone or email:
            identity.verified_by = inbound.verified_by or identity.verified_by
        identity.last_seen_at = utcnow()
        if inbound.display_name and not identity.display_name:
            identity.display_name = inbound.display_name
    if inbound.display_name and not contact.name:
        contact.name = inbound.display_name
    contact.preferred_channel = inbound.channel
    conversation = _open_conversation(session, contact.id, inbound.channel)
    conversation.last_channel = inbound.channel
    return Party(contact.id, conversation.id, conversation.status, conversation.language or contact.language, identity.id)


def _inbound_message(party: Party, inbound: Inbound, text: str, at: dt.datetime) -> Message:
    payload: dict[str, Any] = {}
    if inbound.payload:
        payload["button_payload"] = inbound.payload
    if inbound.media_urls:
        payload["media"] = list(inbound.media_urls)
    if inbound.extra:
        payload["extra"] = inbound.extra
    return Message(
        conversation_id=party.conversation_id,
        direction="in",
        author="customer",
        channel=inbound.channel,
        provider_message_id=inbound.provider_message_id,
        text=text,
        payload=payload or None,
        delivery_status="received",
        created_at=at,
    )


def store_inbound(party: Party, inbound: Inbound, text: str, at: Optional[dt.datetime] = None) -> int:
    """Writes the message before anything acts on it; raises Duplicate on a provider retry."""
    try:
        with session_scope() as session:
            message = _inbound_message(party, inbound, text, at or utcnow())
            session.add(message)
            session.flush()
            cycles.customer_message(session, party.conversation_id, inbound.channel, message.created_at, party.status)
            return message.id
    except IntegrityError as error:
        raise Duplicate(inbound.provider_message_id) from error


def store_outbound(
    conversation_id: str, channel: str, outbound: Outbound, author: str = "bot", private: bool = False
) -> int:
    """Writes a reply as `pending` (or `sent` for private notes, which never leave) before sending."""
    with session_scope() as session:
        return add_outbound(session, conversation_id, channel, outbound, author, private)


def add_outbound(
    session: Session, conversation_id: str, channel: str, outbound: Outbound, author: str = "bot", private: bool = False,
    reply_to: Optional[int] = None,
) -> int:
    """store_outbound inside the caller's transaction; a public reply comes with its delivery job."""
    return add_reply(session, conversation_id, channel, outbound, author, private, reply_to)[0]


def add_reply(
    session: Session, conversation_id: str, channel: str, outbound: Outbound, author: str = "bot", private: bool = False,
    reply_to: Optional[int] = None, owner: Optional[str] = None, at: Optional[dt.datetime] = None,
) -> tuple[int, Optional[int]]:
    """(message id, delivery job id): the reply stored, and for a public one its delivery job,
    claimed by `owner` from birth when given (the outbox, about to send it). A fallback's answer
    counts, once per message it answers, in the session's not-understood messages."""
    message = Message(
        created_at=at or utcnow(),
        response=outbound.response,
        reply_to=reply_to,
        conversation_id=conversation_id,
        direction="out",
        author=author,
        channel=channel,
        text=outbound.text,
        payload=outbound.to_json(),
        private=private,
        delivery_status="sent" if private else "pending",
    )
    session.add(message)
    session.flush()
    if private:
        return message.id, None
    if outbound.response in cycles.FALLBACK_RESPONSES and not _fallback_before(session, message):
        cycles.fallback_answered(session, conversation_id)
    session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.first_response_at.is_(None))
        .values(first_response_at=utcnow())
    )
    return message.id, jobs.add(session, DELIVER_JOB, str(message.id), owner=owner)


def _fallback_before(session: Session, reply: Message) -> bool:
    """Whether the message `reply` answers already had an answer of the fallback (a split reply)."""
    if reply.reply_to is None:
        return False
    return session.execute(
        select(Message.id).where(Message.reply_to == reply.reply_to, Message.id != reply.id,
                                 Message.response.in_(sorted(cycles.FALLBACK_RESPONSES))).limit(1)
    ).first() is not None


def mark_processed(message_id: int) -> None:
    with session_scope() as session:
        _mark_processed(session, message_id)


def _mark_processed(session: Session, message_id: int) -> None:
    """The message is answered: marked so, and its job is done, in the caller's transaction."""
    session.execute(
        update(Message)
        .where(Message.id == message_id, Message.delivery_status == "received")
        .values(delivery_status="processed", turn_ended_at=utcnow())
    )
    jobs.settle(session, INBOUND_JOB, str(message_id))


def fence(session: Session, conversation_id: str, token: Optional[int]) -> None:
    """Raises LeaseLost unless `token` is the newest fencing token the conversation has seen.

    Called in the transaction that writes a turn's results: a replica whose lock lease ran out
    (paused, partitioned) and was taken over holds an older token, and its writes are refused.
    """
    if token is None:
        return
    raised = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, or_(Conversation.fence.is_(None), Conversation.fence <= token))
        .values(fence=token)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not raised:
        raise LeaseLost(f"conversation {conversation_id}: a newer turn holds it")


def _answered_unmarked(session: Session, message_id: int) -> bool:
    """A message still `received`, never failed, although replies to it are stored (a failed turn
    stores its "we'll answer later" notice and sets `error`: that one is still to be answered)."""
    return session.execute(
        select(Message.id).where(Message.id == message_id, Message.delivery_status == "received",
                                 Message.error.is_(None))
    ).first() is not None and session.execute(
        select(Message.id).where(Message.reply_to == message_id, Message.direction == "out").limit(1)
    ).first() is not None


def begin_turn(conversation_id: str, before: int, detected: Optional[str], with_offered: bool,
               token: Optional[int] = None, replica: Optional[str] = None, resumed: bool = False) -> Turn:
    """The conversation's state before message `before` is routed; records a detected language,
    the turn's fencing token, and when and where the turn began. `resumed`: the message was
    stored earlier than this turn's start (recovered, or left behind by another replica)."""
    with session_scope() as session:
        fence(session, conversation_id, token)
        if resumed and _answered_unmarked(session, before):
            # A replica died after its turn stored the replies (their sends are jobs of their own)
            # and before it marked the message processed: running the turn again would answer twice.
            _mark_processed(session, before)
        waiting = session.execute(
            update(Message).where(Message.id == before, Message.delivery_status == "received")
            .values(turn_started_at=utcnow(), processed_by=replica).execution_options(synchronize_session=False)
        ).rowcount
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            return Turn(None, None, (), frozenset(), None)
        message_status = "received" if waiting else "answered"
        earlier = tuple(_waiting_before(session, conversation_id, before)) if waiting else ()
        if detected in ("es", "en") and conversation.language != detected and not earlier:
            conversation.language = detected
            session.execute(update(Contact).where(Contact.id == conversation.contact_id).values(language=detected))
        last, condensed = _last_reply(session, conversation_id, before)
        return Turn(
            conversation.status,
            conversation.language,
            last.buttons if last else (),
            frozenset(_offered_payloads(session, conversation_id, before)) if with_offered else frozenset(),
            message_status,
            earlier,
            last if last is not None and last.buttons and condensed else None,
        )


def finish_turn(conversation_id: str, message_id: int, processed: bool, retry_in: float = 30.0) -> Optional[str]:
    """Marks the message processed (or attempted, to be tried again in `retry_in` seconds by any
    replica) and returns the status now."""
    with session_scope() as session:
        if processed:
            _mark_processed(session, message_id)
        else:
            session.execute(update(Message).where(Message.id == message_id)
                            .values(error="dialogue failed", turn_ended_at=utcnow()))
            jobs.settle(session, INBOUND_JOB, str(message_id), utcnow() + dt.timedelta(seconds=retry_in))
        return session.execute(
            select(Conversation.status).where(Conversation.id == conversation_id)
        ).scalar_one_or_none()


def _last_reply(session: Session, conversation_id: str, before: int) -> tuple[Optional[Outbound], bool]:
    """The assistant's latest message before `before`, if nobody spoke since (its options are the
    ones a "2" picks), and whether its channel could only show it condensed (Turn.condensed)."""
    row = session.execute(
        select(Message.direction, Message.payload, Message.text)
        .where(
            Message.conversation_id == conversation_id,
            Message.private.is_(False),
            Message.id < before,
        )
        .order_by(Message.id.desc())
        .limit(1)
    ).first()
    if row is None or row.direction != "out":
        return None, False
    return Outbound.from_json(row.payload, row.text or ""), bool((row.payload or {}).get("condensed"))


def _offered_payloads(session: Session, conversation_id: str, before: int, limit: int = 50) -> set[str]:
    """The button payloads of the assistant's last `limit` messages before `before`.

    Added for the reliability suite (tests/reliability/test_bad_input.py): a payload a client
    sends (web chat body, Telegram callback_data) is only honoured if we offered it.
    """
    rows = session.execute(
        select(Message.payload)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == "out",
            Message.id < before,
        )
        .order_by(Message.id.desc())
        .limit(limit)
    ).scalars()
    return {str(b.get("payload", "")) for payload in rows for b in (payload or {}).get("buttons") or ()}


def conversation(conversation_id: str) -> Optional[Conversation]:
    with session_scope() as session:
        return session.get(Conversation, conversation_id)


def language_of(conversation_id: Optional[str]) -> Optional[str]:
    """The language the assistant speaks in this conversation; None until it knows."""
    if conversation_id is None:
        return None
    with session_scope() as session:
        return session.scalar(select(Conversation.language).where(Conversation.id == conversation_id))


def history(conversation_id: str, after_id: int = 0, limit: int = 200) -> list[dict[str, Any]]:
    """Public (non-private) messages of a conversation, oldest first, as JSON for clients."""
    with session_scope() as session:
        rows = session.execute(
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.private.is_(False),
                Message.id > after_id,
            )
            .order_by(Message.id.desc())
            .limit(limit)
        ).scalars().all()
        return [message_json(m) for m in reversed(rows)]


def messages_json(message_ids: list[int]) -> list[dict[str, Any]]:
    """These messages (a turn's replies), oldest first, as JSON for clients."""
    if not message_ids:
        return []
    with session_scope() as session:
        rows = session.execute(select(Message).where(Message.id.in_(message_ids)).order_by(Message.id)).scalars()
        return [message_json(m) for m in rows]


def message_json(message: Message) -> dict[str, Any]:
    body = Outbound.from_json(message.payload, message.text or "") if message.direction == "out" else None
    data: dict[str, Any] = {
        "id": message.id,
        "direction": message.direction,
        "author": message.author,
        "channel": message.channel,
        "text": message.text or "",
        "created_at": message.created_at.isoformat() if message.created_at else None,
    }
    if body is not None:
        data.update({k: v for k, v in body.to_json().items() if k != "text"})
    return data


def _waiting_before(session: Session, conversation_id: str, before: int,
                    limit: int = 20) -> list[tuple[int, str, str, Optional[str]]]:
    """Inbound messages of the conversation stored before `before`, not answered and not failed,
    oldest first: (id, channel, text, button payload). A turn processes them first, so that a
    conversation's messages are answered in the order they were stored whichever replica got them.
    A message being recovered counts too (its attempt is counted before its turn waits for the
    lock): skipping it let a later message be answered first."""
    rows = session.execute(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.direction == "in", Message.id < before,
               Message.delivery_status == "received", Message.error.is_(None))
        .order_by(Message.id)
        .limit(limit)
    ).scalars().all()
    return [(m.id, m.channel, m.text or "", (m.payload or {}).get("button_payload")) for m in rows]


def inbound_state(message_id: int) -> Optional[tuple[str, str, str, Optional[str], Optional[str], int]]:
    """(conversation id, channel, delivery status, text, button payload, attempts) of an inbound
    message; None when it is gone (erased)."""
    with session_scope() as session:
        m = session.get(Message, message_id)
        if m is None or m.direction != "in":
            return None
        return m.conversation_id, m.channel, m.delivery_status, m.text, (m.payload or {}).get("button_payload"), m.attempts


def answered(message_id: int) -> bool:
    """Whether a turn that did not fail stored replies to this message (its replica may have died
    before marking it processed)."""
    with session_scope() as session:
        failed = session.scalar(select(Message.error).where(Message.id == message_id))
        return failed is None and session.scalar(
            select(Message.id).where(Message.reply_to == message_id).limit(1)) is not None


def replies_to(message_id: int) -> list[int]:
    """Ids of the replies stored for an inbound message (by whichever replica ran its turn)."""
    with session_scope() as session:
        return list(session.execute(
            select(Message.id).where(Message.reply_to == message_id).order_by(Message.id)
        ).scalars())


def count_attempt(message_id: int) -> None:
    """One more try at a message whose turn failed before."""
    with session_scope() as session:
        session.execute(update(Message).where(Message.id == message_id).values(attempts=Message.attempts + 1))


def give_up(message_id: int) -> None:
    """A message that kept failing: marked failed (a person takes the conversation), its job done."""
    with session_scope() as session:
        session.execute(
            update(Message).where(Message.id == message_id)
            .values(attempts=Message.attempts + 1, delivery_status="failed")
        )
        jobs.settle(session, INBOUND_JOB, str(message_id))


def party_of(conversation_id: str, channel: str) -> Optional[tuple[Party, str]]:
    """The party of a stored conversation and its latest address on `channel`."""
    with session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            return None
        identity = session.execute(
            select(ChannelIdentity)
            .where(ChannelIdentity.contact_id == conversation.contact_id, ChannelIdentity.channel == channel)
            .order_by(ChannelIdentity.last_seen_at.desc())
            .limit(1)
        ).scalar_one_or_none()
        if identity is None:
            return None
        contact = session.get(Contact, conversation.contact_id)
        party = Party(contact.id, conversation.id, conversation.status, conversation.language or contact.language, identity.id)
        return party, identity.address
