"""The hand-over point between the bot and the people behind it.

Actions (in the action server's process) call `request()`; it records in the store that the
conversation waits for an agent. The hub, in the server's process, sees the new status after the
turn and tells the agents' desk; the store is the one channel between the two processes.
"""
from __future__ import annotations

import logging
from typing import Optional

from bot.db import session_scope, utcnow
from bot.store.models import Contact, Conversation

logger = logging.getLogger(__name__)


def request(
    conversation_id: str,
    reason: str,
    channel: Optional[str] = None,
    language: Optional[str] = None,
) -> bool:
    """Marks the conversation `waiting_agent`; False when it already was with a person."""
    with session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            contact = Contact(language=language)
            session.add(contact)
            session.flush()
            conversation = Conversation(
                id=conversation_id, contact_id=contact.id, last_channel=channel, language=language
            )
            session.add(conversation)
        if conversation.status in ("waiting_agent", "agent"):
            return False
        conversation.status = "waiting_agent"
        conversation.handed_off_at = utcnow()
        if language:
            conversation.language = language
    logger.info("conversation %s handed off (%s)", conversation_id, reason)
    return True
