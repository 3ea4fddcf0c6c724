"""Helpers for conversation tests: fresh sender ids and verified identities in the store."""
from __future__ import annotations

import uuid
from typing import Callable, Optional

import pytest

from bot.db import session_scope
from bot.store.models import Contact, Conversation
from bot.store.normalize import canonical_phone


@pytest.fixture
def sender() -> str:
    """A new conversation id (the Rasa sender_id) for each test."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def verified(database_url: str) -> Callable[..., str]:
    """Creates a conversation whose contact carries a verified phone and/or email."""

    def make(phone: Optional[str] = None, email: Optional[str] = None, is_distributor: bool = False) -> str:
        conversation_id = f"test-{uuid.uuid4().hex[:12]}"
        with session_scope() as session:
            existing = None
            if phone:
                existing = session.query(Contact).filter_by(phone=canonical_phone(phone)).one_or_none()
            contact = existing or Contact(phone=phone, email=email, is_distributor=is_distributor)
            session.add(contact)
            session.flush()
            session.add(Conversation(id=conversation_id, contact_id=contact.id, last_channel="whatsapp"))
        return conversation_id

    return make
