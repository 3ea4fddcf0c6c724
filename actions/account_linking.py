"""`action_link_account`: issues the short-lived code that joins another channel to this conversation.

Issuing and redeeming codes is the core's (bot/linking.py); this is only the dialogue's side.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot import linking


class ActionLinkAccount(Action):
    def name(self) -> Text:
        return "action_link_account"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        try:
            code = linking.issue_code(tracker.sender_id)
        except linking.RateLimited:
            code = None
        if code is None:
            dispatcher.utter_message(response="utter_link_unavailable")
        else:
            dispatcher.utter_message(response="utter_link_code", code=code)
        return []
