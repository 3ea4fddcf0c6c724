"""Forgetting a person in the core's store: on request (`contacts erase`) or by age (retention).

What identifies someone goes: their name, verified phone and e-mail, the links to the business's
records, their channel identities, link codes and the rate-limit records keyed by their addresses,
the words of every message (replaced by "[erased]") and Rasa's dialogue events. What the service's
figures count stays, anonymous: the contact's row, its conversations (statuses, times, CSAT, the
agent who answered) and messages (channel, direction, author, delivery status, times). The audit
trail keeps the contact's id (bot/audit.py). The copies at the agents' desk go through
`desk_erase` jobs (bot/store/desk.py); the business's tickets through the business (ops/privacy.py).
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable, Optional

from sqlalchemy import MetaData, Table, delete, inspect, select, update
from sqlalchemy.orm import Session

from bot.db import get_engine, session_scope, utcnow
from bot.store.desk import WITH_PEOPLE
from bot.store.models import ChannelIdentity, Contact, Conversation, LinkAttempt, LinkCode, Message

ERASED = "[erased]"


def events_table() -> Optional[Table]:
    """Rasa's tracker store table (`events`), when the database has one."""
    engine = get_engine()
    if not inspect(engine).has_table("events"):
        return None
    return Table("events", MetaData(), autoload_with=engine)


def conversations_of(session: Session, contact_id: int) -> list[str]:
    return list(session.execute(select(Conversation.id).where(Conversation.contact_id == contact_id)).scalars())


def anonymise_conversations(session: Session, conversation_ids: Iterable[str], now: Optional[dt.datetime] = None) -> int:
    """Blanks the words of every message of these conversations and deletes their dialogue events,
    in the caller's transaction; returns how many messages it blanked."""
    ids = list(conversation_ids)
    if not ids:
        return 0
    of = Message.conversation_id.in_(ids)
    blanked = session.execute(
        update(Message).where(of, Message.text.is_not(None)).values(text=ERASED)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.execute(update(Message).where(of).values(payload=None, error=None).execution_options(synchronize_session=False))
    session.execute(
        update(Conversation).where(Conversation.id.in_(ids)).values(anonymised_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    table = events_table()
    if table is not None:
        session.execute(delete(table).where(table.c.sender_id.in_(ids)))
    return blanked


def forget_contact(session: Session, contact_id: int) -> int:
    """Strips the contact of what identifies them, in the caller's transaction; returns how many
    channel identities went. A conversation still waiting for or with an agent goes back to the
    bot: nobody is to answer a person who is no longer there."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise LookupError(contact_id)
    identities = session.execute(select(ChannelIdentity).where(ChannelIdentity.contact_id == contact_id)).scalars().all()
    keys = [f"{i.channel}:{i.address}" for i in identities]
    session.execute(delete(ChannelIdentity).where(ChannelIdentity.contact_id == contact_id))
    session.execute(delete(LinkCode).where(LinkCode.contact_id == contact_id))
    if keys:
        session.execute(delete(LinkAttempt).where(LinkAttempt.key.in_(keys)))
    session.execute(
        update(Conversation).where(Conversation.contact_id == contact_id, Conversation.status.in_(WITH_PEOPLE))
        .values(status="bot").execution_options(synchronize_session=False)
    )
    for field in ("name", "phone", "email", "email_verified_by", "customer_id", "distributor_id"):
        setattr(contact, field, None)
    return len(keys)


def erase_contact(contact_id: int) -> dict[str, int]:
    """The store's part of erasing a person, in one transaction: what it touched, counted."""
    with session_scope() as session:
        if session.get(Contact, contact_id) is None:
            raise LookupError(contact_id)
        ids = conversations_of(session, contact_id)
        table = events_table()
        events = 0
        if table is not None and ids:
            events = len(session.execute(select(table.c.id).where(table.c.sender_id.in_(ids))).all())
        messages = anonymise_conversations(session, ids)
        identities = forget_contact(session, contact_id)
    return {"messages": messages, "identities": identities, "dialogue_events": events}
