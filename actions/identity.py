"""Who is on the other end of a conversation, as far as verified keys prove it.

A phone from Twilio's `From`, a Telegram shared contact or a signed web identity is recorded on
the contact by the hub; the actions only trust those, never what a message claims.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sqlalchemy import select

from actions.backend.base import Backend, Customer, Distributor
from bot.db import session_scope
from bot.store.models import Contact, Conversation


@dataclass(frozen=True)
class VerifiedContact:
    """The contact behind a conversation and the keys a channel verified for it (None when not)."""

    contact_id: Optional[int]
    phone: Optional[str]
    email: Optional[str]
    is_distributor: bool

    @property
    def verified(self) -> bool:
        return bool(self.phone or self.email)


ANONYMOUS = VerifiedContact(None, None, None, False)


def of_conversation(conversation_id: str) -> VerifiedContact:
    """The verified contact behind a Rasa sender_id (our conversation id)."""
    with session_scope() as session:
        row = session.execute(
            select(Contact)
            .join(Conversation, Conversation.contact_id == Contact.id)
            .where(Conversation.id == conversation_id)
        ).scalar_one_or_none()
        if row is None:
            return ANONYMOUS
        return VerifiedContact(row.id, row.phone, row.email, bool(row.is_distributor))


def customers_of(contact: VerifiedContact, backend: Backend) -> list[Customer]:
    """The business customers this verified contact stands for."""
    found: dict[int, Customer] = {}
    if contact.phone:
        customer = backend.customer_by_phone(contact.phone)
        if customer:
            found[customer.id] = customer
    if contact.email:
        customer = backend.customer_by_email(contact.email)
        if customer:
            found[customer.id] = customer
    return list(found.values())


def distributor_of(contact: VerifiedContact, backend: Backend) -> Optional[Distributor]:
    """The distributor behind a verified phone or email, if any."""
    if contact.phone:
        distributor = backend.distributor_by_phone(contact.phone)
        if distributor:
            return distributor
    if contact.email:
        return backend.distributor_by_email(contact.email)
    return None
