"""Where is my order: the form that asks for the number and the lookup that answers it.

Only the owner gets an answer: a verified phone or email on the conversation, or, in an anonymous
chat, the email on the order confirmed by the customer. "Not found" and "not yours" read the same,
so guessing numbers reveals nothing.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import identity, labels
from actions.backend import get_backend
from actions.backend.base import Backend, Order
from actions.common import backend_guard, lang
from actions.forms import VerifiedContactForm, checked, parse_email
from bot.typed_values import find_order_ids, normalise_order_id


def parse_order_id(value: Any) -> Optional[str]:
    text = str(value or "")
    return normalise_order_id(text) or next(iter(find_order_ids(text)), None)


def is_owner(
    customer_id: Optional[int], who: identity.VerifiedContact, confirmed_email: Optional[str], backend: Backend
) -> bool:
    """Whether the person may see a record that belongs to `customer_id`."""
    if customer_id is None:
        return False
    if any(c.id == customer_id for c in identity.customers_of(who, backend)):
        return True
    if confirmed_email:
        customer = backend.customer(customer_id)
        return bool(customer and customer.email and customer.email.lower() == confirmed_email.lower())
    return False


class ValidateOrderStatusForm(VerifiedContactForm):
    def name(self) -> Text:
        return "validate_order_status_form"

    def validate_order_id(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        return checked("order_id", parse_order_id(slot_value), "utter_invalid_order_id", dispatcher)


def describe_items(order: Order, language: str) -> str:
    return ", ".join(f"{item.quantity} × {item.name} ({item.sku})" for item in order.items) or "-"


RESPONSE_BY_STATUS = {
    "received": "utter_order_pending",
    "preparing": "utter_order_pending",
    "shipped": "utter_order_in_transit",
    "delivered": "utter_order_delivered",
    "delayed": "utter_order_delayed",
    "cancelled": "utter_order_cancelled",
}


class ActionCheckOrder(Action):
    def name(self) -> Text:
        return "action_check_order"

    @backend_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        language = lang(tracker)
        order_id = parse_order_id(tracker.get_slot("order_id"))
        backend = get_backend()
        who = identity.of_conversation(tracker.sender_id)
        email = None if who.verified else parse_email(tracker.get_slot("email"))
        events: list = [SlotSet("order_id", None)]
        order = backend.order(order_id) if order_id else None
        if order is None or not is_owner(order.customer_id, who, email, backend):
            dispatcher.utter_message(response="utter_order_not_found", order_id=order_id or "-")
            return events + [SlotSet("email", None)]
        dispatcher.utter_message(
            response=RESPONSE_BY_STATUS.get(order.status, "utter_order_pending"),
            order_id=order.id,
            status=labels.order_status(order.status, language),
            items=describe_items(order, language),
            carrier=order.carrier or "-",
            tracking=order.tracking_number or "-",
            expected=labels.date(order.expected_date, language),
            reason=labels.delay_reason(order.delay_code, order.delay_reason, language),
        )
        if order.status == "delayed":
            events += [SlotSet("pending_offer", "ticket"), SlotSet("offer_order_id", order.id)]
        return events
