"""A person's rights over their data (GDPR, Spain's LOPD, Mexico's LFPDPPP): see it all, erase it.

`export` gathers everything stored about a contact; `erase` removes or anonymises it everywhere,
Rasa's tracker included. Business records the wholesaler must keep (tickets) stay, stripped of
personal data by the wholesaler's own systems, through the `Backend`: the core's store never reads
the ERP's tables. Operations, not runtime: `python -m ops contacts export|erase`.
"""
from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import MetaData, Table, delete, inspect, or_, select

from actions.backend import get_backend
from actions.backend.base import Backend
from bot.db import get_engine, session_scope
from bot.store import notices as notice_store
from bot.store.models import ChannelIdentity, Contact, Conversation, LinkAttempt, LinkCode, Message
from bot.store.normalize import canonical_phone, normalize_email

ERASED = "[erased]"


def find_contact(key: str) -> Optional[int]:
    """A contact by id, verified phone, verified email or channel address."""
    with session_scope() as session:
        if key.isdigit() and session.get(Contact, int(key)) is not None:
            return int(key)
        clauses = [ChannelIdentity.address == key]
        try:
            clauses.append(Contact.phone == canonical_phone(key))
        except ValueError:
            pass
        try:
            clauses.append(Contact.email == normalize_email(key))
        except ValueError:
            pass
        return session.execute(
            select(Contact.id).outerjoin(ChannelIdentity).where(or_(*clauses)).limit(1)
        ).scalar_one_or_none()


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _row(obj: Any, fields: list[str]) -> dict[str, Any]:
    return {name: _iso(getattr(obj, name)) for name in fields}


def export(contact_id: int, backend: Optional[Backend] = None) -> dict[str, Any]:
    """Everything stored about one contact, as JSON-ready data."""
    backend = backend or get_backend()
    with session_scope() as session:
        contact = session.get(Contact, contact_id)
        if contact is None:
            raise LookupError(contact_id)
        conversations = session.execute(select(Conversation).where(Conversation.contact_id == contact_id)).scalars().all()
        ids = [c.id for c in conversations]
        messages = session.execute(select(Message).where(Message.conversation_id.in_(ids)).order_by(Message.id)).scalars().all()
        identities = session.execute(select(ChannelIdentity).where(ChannelIdentity.contact_id == contact_id)).scalars().all()
        tickets = backend.tickets_about(ids, contact.email)
        return {
            "contact": _row(contact, ["id", "name", "language", "phone", "email", "is_distributor", "preferred_channel", "created_at"]),
            "identities": [_row(i, ["channel", "address", "verified_by", "display_name", "created_at", "last_seen_at"]) for i in identities],
            "conversations": [
                _row(c, ["id", "status", "language", "assigned_agent", "created_at", "handed_off_at", "resolved_at", "csat", "csat_agent"])
                for c in conversations
            ],
            "messages": [
                _row(m, ["id", "conversation_id", "direction", "author", "channel", "text", "payload", "private", "delivery_status", "created_at"])
                for m in messages
            ],
            "tickets": [
                _row(t, ["id", "category", "description", "priority", "area", "status", "contact_email", "order_id", "created_at", "due_at"])
                for t in tickets
            ],
            "dialogue_events": _tracker_event_count(ids),
            **_notice_records(contact_id),
        }


def _notice_records(contact_id: int) -> dict[str, Any]:
    """The person's order notices (what, when, what they chose) and every stop / start they said."""
    return notice_store.records_of(contact_id)


def _forget_notices(contact_id: int) -> dict[str, int]:
    """Notices and consents stay as counts, no longer tied to the person."""
    return notice_store.forget(contact_id)


def _events_table() -> Optional[Table]:
    engine = get_engine()
    if not inspect(engine).has_table("events"):
        return None
    return Table("events", MetaData(), autoload_with=engine)


def _tracker_event_count(conversation_ids: list[str]) -> int:
    table = _events_table()
    if table is None or not conversation_ids:
        return 0
    with get_engine().connect() as connection:
        return len(connection.execute(select(table.c.id).where(table.c.sender_id.in_(conversation_ids))).all())


def _conversations_and_email(contact_id: int) -> tuple[list[str], Optional[str]]:
    with session_scope() as session:
        contact = session.get(Contact, contact_id)
        if contact is None:
            raise LookupError(contact_id)
        ids = list(session.execute(select(Conversation.id).where(Conversation.contact_id == contact_id)).scalars())
        return ids, contact.email


def erase(contact_id: int, backend: Optional[Backend] = None) -> dict[str, int]:
    """Removes or anonymises everything personal about a contact; returns what it touched.

    Tickets go first, in the wholesaler's systems, while the contact still has the email that
    finds them: if anything after fails, running it again finds the same tickets and finishes.
    """
    ids, email = _conversations_and_email(contact_id)
    tickets = (backend or get_backend()).erase_tickets(ids, email)
    counts = {"tickets": tickets, **_erase_from_store(contact_id, ids), **_forget_notices(contact_id),
              "dialogue_events": 0}
    table = _events_table()
    if table is not None and ids:
        with get_engine().begin() as connection:
            counts["dialogue_events"] = connection.execute(delete(table).where(table.c.sender_id.in_(ids))).rowcount
    return counts


def _erase_from_store(contact_id: int, ids: list[str]) -> dict[str, int]:
    """The conversation store's part: messages blanked, identities and link codes gone, contact anonymised."""
    with session_scope() as session:
        contact = session.get(Contact, contact_id)
        addresses = [
            f"{i.channel}:{i.address}"
            for i in session.execute(select(ChannelIdentity).where(ChannelIdentity.contact_id == contact_id)).scalars()
        ]
        messages = 0
        for message in session.execute(select(Message).where(Message.conversation_id.in_(ids))).scalars():
            message.text = ERASED
            message.payload = None
            message.error = None
            messages += 1
        session.execute(delete(ChannelIdentity).where(ChannelIdentity.contact_id == contact_id))
        session.execute(delete(LinkCode).where(LinkCode.contact_id == contact_id))
        if addresses:
            session.execute(delete(LinkAttempt).where(LinkAttempt.key.in_(addresses)))
        for conversation in session.execute(select(Conversation).where(Conversation.contact_id == contact_id)).scalars():
            conversation.assigned_agent = None
            conversation.csat_agent = None
        contact.name = None
        contact.phone = None
        contact.email = None
        contact.customer_id = None
        contact.distributor_id = None
    return {"messages": messages, "identities": len(addresses)}
