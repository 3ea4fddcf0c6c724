"""The actions that steer the dialogue whatever the business question: the language of each turn,
what to say when a message is not understood, yes/no offers, and handing over to a person.

(Not to be confused with bot/conversations.py, the store of conversations and their messages.)
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from bot import handoff, language

# Intents after which a pending yes/no offer still makes sense.
_OFFER_ANSWERS = {"affirm", "deny"}
_MISSES = {"nlu_fallback", "out_of_scope"}


class ActionDetectLanguage(Action):
    """Runs after every user message (a custom slot mapping): language, miss counter, stale offers."""

    def name(self) -> Text:
        return "action_detect_language"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        events: list = []
        detected = language.detect(tracker.latest_message.get("text"))
        if detected and detected != tracker.get_slot("language"):
            events.append(SlotSet("language", detected))
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent not in _MISSES and tracker.get_slot("fallback_count"):
            events.append(SlotSet("fallback_count", 0))
        if intent not in _OFFER_ANSWERS and tracker.get_slot("pending_offer"):
            events.append(SlotSet("pending_offer", None))
        return events


class ActionHandleFallback(Action):
    """A helpful answer on a miss; after two misses in a row, the offer of a person."""

    def name(self) -> Text:
        return "action_handle_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        # Like Rasa's own fallback, forget the turn that was not understood: otherwise, when no
        # rule covers it, the policies predict this action again and again in the same turn.
        # The slots the turn set are kept by setting them again after the revert.
        kept = [SlotSet("language", tracker.get_slot("language"))]
        misses = int(tracker.get_slot("fallback_count") or 0) + 1
        if misses >= 2:
            dispatcher.utter_message(response="utter_offer_human")
            return [UserUtteranceReverted(), *kept, SlotSet("fallback_count", 0), SlotSet("pending_offer", "human")]
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        dispatcher.utter_message(response="utter_out_of_scope" if intent == "out_of_scope" else "utter_fallback")
        return [UserUtteranceReverted(), *kept, SlotSet("fallback_count", misses)]


class ActionRequestHuman(Action):
    """The hand-over point: the store marks the conversation as waiting and Rasa pauses."""

    def name(self) -> Text:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        handoff.request(
            tracker.sender_id,
            reason="customer_request",
            channel=tracker.get_latest_input_channel(),
            language=tracker.get_slot("language"),
        )
        dispatcher.utter_message(response="utter_handoff")
        return [SlotSet("pending_offer", None), SlotSet("fallback_count", 0), ConversationPaused()]


class ActionAnswerOffer(Action):
    """Yes or no to the last offer the assistant made (a person, or a ticket for a late order)."""

    def name(self) -> Text:
        return "action_answer_offer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        offer = tracker.get_slot("pending_offer")
        accepted = (tracker.latest_message.get("intent") or {}).get("name") == "affirm"
        cleared = [SlotSet("pending_offer", None)]
        if not accepted or offer is None:
            dispatcher.utter_message(response="utter_anything_else")
            return cleared + [SlotSet("offer_order_id", None)]
        if offer == "human":
            return cleared + await ActionRequestHuman().run(dispatcher, tracker, domain)
        from actions.tickets import open_delay_ticket

        return cleared + await open_delay_ticket(dispatcher, tracker)
