"""Small helpers every action shares."""
from __future__ import annotations

import functools
import logging
from typing import Any, Awaitable, Callable

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

logger = logging.getLogger(__name__)


def lang(tracker: Tracker) -> str:
    """The conversation's language slot, Spanish unless English was detected."""
    return "en" if tracker.get_slot("language") == "en" else "es"


def backend_guard(run: Callable[..., Awaitable[list]]) -> Callable[..., Awaitable[list]]:
    """A failing backend gets the customer a polite message instead of a silent action error."""

    @functools.wraps(run)
    async def wrapper(self: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list:
        try:
            return await run(self, dispatcher, tracker, domain)
        except Exception:  # noqa: BLE001 - any backend failure must reach the customer politely
            logger.exception("action %s failed for conversation %s", self.name(), tracker.sender_id)
            dispatcher.utter_message(response="utter_backend_error")
            return []

    return wrapper
