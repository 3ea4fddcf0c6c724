"""A person's rights over their data: ARCO in Mexico's LFPDPPP (access, rectification,
cancellation, opposition), the same in other words in the GDPR and Spain's LOPD.

`export` gathers everything held about a contact as machine-readable JSON; `rectify` corrects
their name and e-mail; `erase` removes or anonymises it everywhere: the conversation store and
Rasa's tracker (bot/erasure.py), the business's tickets (through the `Backend`: the core never
reads the ERP's tables) and the copies at the agents' desk in Slack (connectors/slack/erasure.py).
Each request is recorded in the audit trail (bot/audit.py) under the operator who made it.
Operations, not runtime: `python -m ops contacts export|rectify|erase`.

A part of the service that keeps more about people (e.g. notice consent) adds its section to
EXPORTERS and its step to ERASERS, and is then part of every request.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import json
import os
import re
from dataclasses import dataclass
from typing import Any, Callable, Optional

from sqlalchemy import or_, select

from actions.backend import get_backend
from actions.backend.base import Backend
from bot import audit, erasure
from bot.db import session_scope, utcnow
from bot.store import cycles
from bot.store import desk as desk_store
from bot.store import notices as notice_store
from bot.store.models import ChannelIdentity, Contact, Conversation, LinkAttempt, LinkCode, Message
from bot.store.normalize import canonical_phone, normalize_email

ERASED = erasure.ERASED
EXPORT_FORMAT = "unisono.contact-export/1"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def operator() -> str:
    """The audit trail's name for whoever runs the command: "operator:<their login>"."""
    try:
        user = os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return "operator:" + (re.sub(r"\s+", "_", user.strip()) or "unknown")


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


@dataclass(frozen=True)
class Subject:
    """Whom a request is about, read once before anything changes (erasure needs the e-mail and
    addresses it is about to remove)."""

    contact_id: int
    conversation_ids: tuple[str, ...]
    email: Optional[str]
    addresses: tuple[str, ...]  # "channel:address", as link attempts are keyed
    backend: Backend


def subject(contact_id: int, backend: Optional[Backend] = None) -> Subject:
    with session_scope() as session:
        contact = session.get(Contact, contact_id)
        if contact is None:
            raise LookupError(contact_id)
        identities = session.execute(select(ChannelIdentity).where(ChannelIdentity.contact_id == contact_id)).scalars()
        return Subject(contact_id, tuple(erasure.conversations_of(session, contact_id)), contact.email,
                       tuple(f"{i.channel}:{i.address}" for i in identities), backend or get_backend())


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _row(obj: Any, fields: list[str]) -> dict[str, Any]:
    return {name: _iso(getattr(obj, name)) for name in fields}


def _rows(query: Any, fields: list[str]) -> list[dict[str, Any]]:
    with session_scope() as session:
        return [_row(r, fields) for r in session.execute(query).scalars()]


# -- access: one function per section of the export ----------------------------------------------
def _contact(s: Subject) -> dict[str, Any]:
    return _rows(select(Contact).where(Contact.id == s.contact_id), [
        "id", "name", "language", "phone", "email", "email_verified_by", "is_distributor", "customer_id",
        "distributor_id", "preferred_channel", "created_at", "updated_at"])[0]


def _identities(s: Subject) -> list[dict[str, Any]]:
    return _rows(select(ChannelIdentity).where(ChannelIdentity.contact_id == s.contact_id).order_by(ChannelIdentity.id),
                 ["channel", "address", "verified_by", "display_name", "created_at", "last_seen_at"])


def _conversations(s: Subject) -> list[dict[str, Any]]:
    return _rows(select(Conversation).where(Conversation.id.in_(s.conversation_ids)), [
        "id", "status", "language", "last_channel", "created_at", "first_response_at", "handed_off_at",
        "assigned_agent", "resolved_at", "csat", "csat_agent", "anonymised_at"])


def _messages(s: Subject) -> list[dict[str, Any]]:
    """Every message, in and out, on every channel (the desk's own records are `private`)."""
    return _rows(select(Message).where(Message.conversation_id.in_(s.conversation_ids)).order_by(Message.id), [
        "id", "conversation_id", "created_at", "channel", "direction", "author", "text", "delivery_status",
        "sent_at", "private", "payload", "error"])


def _handoffs(s: Subject) -> list[dict[str, Any]]:
    """Each hand-off to a person: when, and when its thread reached the desk (the desk's markers);
    who answered, the outcome and the CSAT of the latest are in `conversations`."""
    with session_scope() as session:
        markers = session.execute(
            select(Message).where(Message.conversation_id.in_(s.conversation_ids), Message.private.is_(True),
                                  Message.provider_message_id.like("thread:%")).order_by(Message.id)
        ).scalars().all()
        found = []
        for marker in markers:
            stamp = (marker.provider_message_id or "").rsplit(":", 1)[-1]
            at = dt.datetime.fromtimestamp(int(stamp) / 1000, dt.timezone.utc) if stamp.isdigit() else None
            found.append({"conversation_id": marker.conversation_id, "handed_off_at": _iso(at),
                          "posted_to_desk_at": _iso(marker.created_at)})
        return found


def _tickets(s: Subject) -> list[dict[str, Any]]:
    return [_row(t, ["id", "category", "description", "priority", "area", "status", "contact_email", "order_id",
                     "created_at", "due_at"]) for t in s.backend.tickets_about(list(s.conversation_ids), s.email)]


def _link_codes(s: Subject) -> list[dict[str, Any]]:
    """Codes the person asked for to link a channel; a code still usable is not shown."""
    with session_scope() as session:
        codes = session.execute(select(LinkCode).where(LinkCode.contact_id == s.contact_id).order_by(LinkCode.id)).scalars()
        return [{**_row(c, ["created_at", "expires_at", "used_at"]), "code": None if c.is_live() else c.code}
                for c in codes]


def _link_attempts(s: Subject) -> list[dict[str, Any]]:
    if not s.addresses:
        return []
    return _rows(select(LinkAttempt).where(LinkAttempt.key.in_(s.addresses)).order_by(LinkAttempt.id),
                 ["key", "created_at", "success"])


def _desk_copies(s: Subject) -> list[dict[str, Any]]:
    """Where copies of their conversation sit at the agents' desk (Slack channel and message ts)."""
    return [{"channel": p.channel, "ts": p.ts, "kind": p.kind, "posted_at": _iso(p.posted_at)}
            for p in desk_store.posts_of(s.conversation_ids)]


def _dialogue_events(s: Subject) -> list[dict[str, Any]]:
    """Rasa's record of the dialogue (what was understood, slots, actions), event by event."""
    table = erasure.events_table()
    if table is None or not s.conversation_ids:
        return []
    with session_scope() as session:
        rows = session.execute(
            select(table.c.sender_id, table.c.type_name, table.c.timestamp, table.c.data)
            .where(table.c.sender_id.in_(s.conversation_ids)).order_by(table.c.id)
        ).all()
    return [{"conversation_id": r[0], "type": r[1], "timestamp": r[2], "data": json.loads(r[3]) if r[3] else None}
            for r in rows]


def _audit_entries(s: Subject) -> list[dict[str, Any]]:
    return audit.entries(EPOCH, contact_id=s.contact_id)


Section = Callable[[Subject], Any]
EXPORTERS: dict[str, Section] = {
    "contact": _contact,
    "identities": _identities,
    "conversations": _conversations,
    "handoffs": _handoffs,
    "messages": _messages,
    "tickets": _tickets,
    "link_codes": _link_codes,
    "link_attempts": _link_attempts,
    "desk_copies": _desk_copies,
    "dialogue_events": _dialogue_events,
    "audit": _audit_entries,
    "care_cycles": lambda s: cycles.of_conversations(list(s.conversation_ids)),  # sessions, hand-off episodes
    "notices": lambda s: notice_store.records_of(s.contact_id)["notices"],  # order notices and choices
    "notice_consents": lambda s: notice_store.records_of(s.contact_id)["notice_consents"],  # stop / start
}


def export(contact_id: int, backend: Optional[Backend] = None, actor: Optional[str] = None) -> dict[str, Any]:
    """Everything held about one contact, as JSON-ready data (recorded in the audit trail)."""
    about = subject(contact_id, backend)
    data: dict[str, Any] = {"format": EXPORT_FORMAT, "exported_at": utcnow().isoformat()}
    data.update({name: section(about) for name, section in EXPORTERS.items()})
    audit.record(actor or operator(), "contacts.export", contact_id,
                 {"messages": len(data["messages"]), "sections": sorted(EXPORTERS)})
    return data


# -- rectification --------------------------------------------------------------------------------
class EmailTaken(ValueError):
    """The e-mail is another contact's verified e-mail: two people are never merged here."""

    def __init__(self, other: int) -> None:
        super().__init__(f"that e-mail is verified for contact {other}")
        self.other = other


def rectify(contact_id: int, name: Optional[str] = None, email: Optional[str] = None,
            actor: Optional[str] = None) -> dict[str, Any]:
    """Corrects the name and/or e-mail ("" clears it). An e-mail set here counts as verified, by
    the operator, who is recorded on the contact (`email_verified_by`) and in the audit trail."""
    if name is None and email is None:
        raise ValueError("nothing to rectify: give a name, an e-mail or both")
    actor = actor or operator()
    with session_scope() as session:
        contact = session.get(Contact, contact_id)
        if contact is None:
            raise LookupError(contact_id)
        fields = []
        if name is not None:
            contact.name = name.strip()[:200] or None
            fields.append("name")
        if email is not None:
            address = normalize_email(email) if email.strip() else None
            other = session.execute(
                select(Contact.id).where(Contact.email == address, Contact.id != contact_id)
            ).scalar_one_or_none() if address else None
            if other is not None:
                raise EmailTaken(other)
            contact.email, contact.email_verified_by = address, actor if address else None
            fields.append("email")
        audit.record(actor, "contacts.rectify", contact_id, {"fields": fields}, session=session)
        return {"rectified_contact": contact_id, "fields": fields, "email_verified_by": contact.email_verified_by}


# -- cancellation ---------------------------------------------------------------------------------
def _erase_tickets(s: Subject) -> dict[str, Any]:
    """First, while the contact still has the e-mail that finds them: run again, it finds them again."""
    return {"tickets": s.backend.erase_tickets(list(s.conversation_ids), s.email)}


def _erase_store(s: Subject) -> dict[str, Any]:
    return erasure.erase_contact(s.contact_id)


def _slack_desk() -> tuple[Any, Optional[str]]:
    """The desk's Slack client and channel from the settings; (None, None) when the desk is off."""
    from slack_sdk.web.async_client import AsyncWebClient

    from connectors.slack.endpoint import SlackSettings

    settings, _missing = SlackSettings.from_env()
    if settings is None:
        return None, None
    return AsyncWebClient(token=settings.token, base_url=settings.api_base_url), settings.channel


def _erase_desk_copies(s: Subject) -> dict[str, Any]:
    """Every message about them at the agents' desk, deleted or blanked now; what Slack does not
    take now is left to durable jobs (counted as `retrying`), and what it never allows, `refused`."""
    posts = desk_store.posts_of(s.conversation_ids)
    if not posts:
        return {"slack": {"deleted": 0, "replaced": 0, "refused": 0, "retrying": 0}}
    from connectors.slack import erasure as slack_erasure  # Slack's client and the desk: only when needed

    client, channel = _slack_desk()
    return {"slack": asyncio.run(slack_erasure.erase_posts(client, channel, posts, s.contact_id))}


ERASERS: list[tuple[str, Section]] = [
    ("tickets", _erase_tickets),
    ("notices", lambda s: notice_store.forget(s.contact_id)),  # the counts stay, no longer whose
    ("store", _erase_store),
    ("desk", _erase_desk_copies),
]


def erase(contact_id: int, backend: Optional[Backend] = None, actor: Optional[str] = None) -> dict[str, Any]:
    """Removes or anonymises everything personal about a contact; returns what it touched. The
    Slack desk is reached with its own settings (SLACK_*); without them, by the running desk's jobs.
    The audit trail keeps an entry with the counts (the contact's id, none of their data)."""
    about = subject(contact_id, backend)
    counts: dict[str, Any] = {}
    for _name, step in ERASERS:
        counts.update(step(about))
    audit.record(actor or operator(), "contacts.erase", contact_id, counts)
    return counts
