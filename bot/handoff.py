"""The hand-over point between the bot and the people behind it, both ways.

Actions (in the action server's process) call `request()`; it records in the store that the
conversation waits for an agent. The hub, in the server's process, sees the new status after the
turn and tells the agents' desk; the store is the one channel between the two processes. When
the agents are done, the desk calls `resume()` so that Rasa takes the conversation back.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Optional

from sqlalchemy import update

from bot.db import session_scope, utcnow
from bot.store import cycles
from bot.store.models import Contact, Conversation

logger = logging.getLogger(__name__)


def request(
    conversation_id: str,
    reason: str,
    channel: Optional[str] = None,
    language: Optional[str] = None,
    at: Optional[dt.datetime] = None,
) -> bool:
    """Marks the conversation `waiting_agent` and opens a hand-off episode (bot/store/cycles.py)
    on the channel the customer last wrote from; False when it already was with a person."""
    at = at or utcnow()
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
            session.flush()
        # One conditional UPDATE: of two requests racing, one opens the episode.
        values: dict[str, Any] = {"status": "waiting_agent", "handed_off_at": at}
        if language:
            values["language"] = language
        changed = session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id, Conversation.status.not_in(cycles.WITH_PEOPLE))
            .values(**values).execution_options(synchronize_session=False)
        ).rowcount
        if not changed:
            return False
        cycles.handoff_requested(session, conversation_id, conversation.last_channel or channel, at)
    logger.info("conversation %s handed off (%s)", conversation_id, reason)
    return True


async def resume(agent: Any, conversation_id: str) -> None:
    """Gives a paused conversation back to Rasa, as Rasa's own "append events" endpoint does.

    `agent` is the loaded Rasa agent (the server's `app.ctx.agent`). Appends ConversationResumed,
    then an action_listen: Rasa stops predicting right after the action that paused the
    conversation, before its usual action_listen; without one, the next message is predicted
    from a state no rule or story has (the hand-off action, then a user turn) and the bot loops
    through fallbacks.
    """
    # Imported here: actions import this module in the action server, which needs no Rasa core.
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.shared.core.constants import ACTION_LISTEN_NAME
    from rasa.shared.core.events import ActionExecuted, ConversationResumed

    if agent is None or agent.processor is None:
        raise RuntimeError("the Rasa agent is not loaded")
    async with agent.lock_store.lock(conversation_id):
        processor = agent.processor
        tracker = await processor.fetch_tracker_with_initial_session(conversation_id, CollectingOutputChannel())
        tracker.update(ConversationResumed(), agent.domain)
        if tracker.latest_action_name != ACTION_LISTEN_NAME:
            tracker.update(ActionExecuted(ACTION_LISTEN_NAME), agent.domain)
        await agent.tracker_store.save(tracker)
