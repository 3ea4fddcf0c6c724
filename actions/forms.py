"""The base of the forms whose questions depend on who the verified contact is.

An order, a ticket or a ticket's status is only shown to its owner. Someone whose phone or
email a channel verified has proved who they are, so they are never asked for an email; everyone
else confirms the email on file. The stock form asks nothing at all of someone who is not a
distributor (they may not see stock, so they are not made to name a product first).
"""
from __future__ import annotations

from abc import abstractmethod
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import identity
from actions.identity import VerifiedContact
from bot.typed_values import find_emails


def parse_email(value: Any) -> Optional[str]:
    """The first email address in what the person typed, lowercased; None when there is none."""
    return next(iter(find_emails(str(value or ""))), None)


def checked(slot: str, value: Optional[str], invalid: str, dispatcher: CollectingDispatcher) -> Dict[Text, Any]:
    """A slot's validation result; a value that could not be read (None) is answered with the
    `invalid` response, which says what is expected, and the form asks again."""
    if value is None:
        dispatcher.utter_message(response=invalid)
    return {slot: value}


class VerifiedContactForm(FormValidationAction):
    """Validation of a form whose slots depend on the conversation's verified contact.

    Subclasses give `name()` and their own `validate_<slot>` methods; they override
    `slots_for` when more than the email depends on the contact.
    """

    @abstractmethod
    def name(self) -> Text:
        """Abstract, so the action server registers the forms, not this base."""

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Text]:
        """rasa_sdk's hook, asked on every turn of the form: the contact decides (see slots_for)."""
        return self.slots_for(identity.of_conversation(tracker.sender_id), domain_slots)

    def slots_for(self, contact: VerifiedContact, domain_slots: List[Text]) -> List[Text]:
        """The form's slots for this contact: the email is asked only of someone unverified."""
        if contact.verified:
            return [slot for slot in domain_slots if slot != "email"]
        return domain_slots

    def validate_email(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return checked("email", parse_email(slot_value), "utter_invalid_email", dispatcher)
