"""Proactive order notices in the dialogue: the notice itself, the customer's choice after a delay,
and their consent ("ya no quiero avisos" / "quiero recibir avisos").

The runtime core decides when a notice goes, to whom and on which channel (bot/notices.py); it
injects the external event `EXTERNAL_order_notice` with the notice's id, and this action says it
from the order, in the person's language. After a delay it offers four ways forward, as buttons
whose payloads name the notice, so that "2" (or a button) is understood whatever was said in
between: wait, an alternative (what is in stock for the order's items at the nearest branch, or a
substitute there), ship what is ready now, or a person. Each choice is recorded on the order's
notice; the middle two open a ticket for logistics with the order attached, the last one hands
the conversation to a person.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import labels
from actions.backend import get_backend
from actions.backend.base import Backend, Branch, NewTicket, Order, OrderItem, StockLevel
from actions.common import backend_guard, lang
from actions.dialogue_control import ActionRequestHuman
from actions.stock import distance_km
from bot import texts
from bot.store import notices as store

RESPONSE_BY_TYPE = {
    "delayed": "utter_notice_delayed",
    "shipped": "utter_notice_shipped",
    "delivered": "utter_notice_delivered",
    "ready_for_pickup": "utter_notice_ready",
}
# What logistics reads on the ticket a choice opens (the team's language).
_FOR_LOGISTICS = {
    "alternative": "el cliente pide una alternativa",
    "ship_ready": "el cliente pide que se envíe lo que ya está disponible",
}


def _entity(tracker: Tracker, name: str) -> Optional[str]:
    value = next(tracker.get_latest_entity_values(name), None)
    return str(value) if value is not None else None


def _notice_id(tracker: Tracker) -> Optional[int]:
    raw = _entity(tracker, "notice_id") or tracker.get_slot("notice_id")
    return int(raw) if raw and str(raw).isdigit() else None


def choice_payload(choice: str, notice_id: int) -> str:
    """The button payload of one option: the notice travels with it."""
    return "/notice_choice" + json.dumps({"notice_choice": choice, "notice_id": str(notice_id)}, separators=(",", ":"))


def reason_of(event: store.OrderEvent, order: Optional[Order], language: str) -> str:
    """Why it is late, in the customer's language: the event's reason (a delay code such as
    "weather", or logistics' words), else the order's own."""
    if event.reason:
        known = event.reason in labels.DELAY_CODES
        return labels.delay_reason(event.reason if known else None, None if known else event.reason, language)
    if order is not None:
        return labels.delay_reason(order.delay_code, order.delay_reason, language)
    return labels.delay_reason(None, None, language)


def _shipping(carrier: Optional[str], tracking: Optional[str], language: str) -> str:
    """ " Paquetería: DHL, guía 123." when known, else nothing."""
    if not carrier:
        return ""
    if language == "en":
        return f" Carrier: {carrier}" + (f", tracking number {tracking}." if tracking else ".")
    return f" Paquetería: {carrier}" + (f", guía {tracking}." if tracking else ".")


def _variables(details: store.Details, order: Optional[Order], backend: Backend, language: str) -> dict[str, Any]:
    event = details.event
    carrier = event.carrier or (order.carrier if order else None)
    tracking = event.tracking_number or (order.tracking_number if order else None)
    branch = backend.branch(order.branch_id) if order and order.branch_id else None
    reason = reason_of(event, order, language)
    detail = {"delayed": reason, "shipped": carrier, "ready_for_pickup": branch.name if branch else None}
    return {
        "order_id": event.order_id,
        "reason": reason,
        "expected": labels.date(event.expected_date or (order.expected_date if order else None), language),
        "carrier": carrier or "-",
        "tracking": tracking or "-",
        "shipping": _shipping(carrier, tracking, language),
        "branch": branch.name if branch else "-",
        "change": labels.notice_change(event.type, detail.get(event.type), language),
        "stop_hint": texts.text("notice_stop_hint", language) if details.first else "",
    }


class ActionOrderNotice(Action):
    """Says a notice the core injected (EXTERNAL_order_notice, entity notice_id)."""

    def name(self) -> Text:
        return "action_order_notice"

    @backend_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        notice_id = _notice_id(tracker)
        details = store.details(notice_id) if notice_id else None
        if details is None:
            return []  # the notice is gone (erased): nothing to say
        language = details.language if details.language in ("es", "en") else lang(tracker)
        backend = get_backend()
        order = backend.order(details.event.order_id)
        values = _variables(details, order, backend, language)
        buttons = []
        if details.event.type == "delayed":
            buttons = [{"title": labels.notice_option(choice, language), "payload": choice_payload(choice, details.notice_id)}
                       for choice in labels.NOTICE_OPTIONS]
        fields = {"order_id": values["order_id"], "change": values["change"], "date": values["expected"]}
        dispatcher.utter_message(response=RESPONSE_BY_TYPE[details.event.type], buttons=buttons,
                                 json_message={"notice": fields}, **values)
        events: list = [SlotSet("notice_id", str(details.notice_id)), SlotSet("language", language)]
        if tracker.active_loop_name:  # the notice is the topic now; a half-filled form is left
            events += [ActiveLoop(None), SlotSet("requested_slot", None)]
        return events


def nearest_stock(levels: List[StockLevel], origin: Optional[Branch], needed: int) -> Optional[StockLevel]:
    """The branch nearest to the order's (itself first) with enough of it."""
    enough = [level for level in levels if level.quantity >= needed]
    if origin is None:
        return max(enough, key=lambda level: level.quantity, default=None)
    return min(enough, key=lambda level: distance_km(origin, level.branch), default=None)


def alternatives(order: Order, backend: Backend, language: str) -> list[str]:
    """One line per item: where it is in stock nearest to the order's branch, else a substitute
    in stock there, else that there is none for now."""
    origin = backend.branch(order.branch_id) if order.branch_id else None
    return [_alternative(item, origin, backend, language) for item in order.items]


def _alternative(item: OrderItem, origin: Optional[Branch], backend: Backend, language: str) -> str:
    found = nearest_stock(backend.stock(item.sku), origin, item.quantity)
    if found is not None:
        return f"• {item.quantity} × {item.name} ({item.sku}): {found.branch.name}, " \
               f"{labels.units(found.quantity, language)}"
    for product in backend.substitutes(item.sku):
        found = nearest_stock(backend.stock(product.sku), origin, item.quantity)
        if found is not None:
            return f"• {item.quantity} × {item.name}: {labels.instead(language)} {product.name} ({product.sku}), " \
                   f"{found.branch.name}, {labels.units(found.quantity, language)}"
    return f"• {item.quantity} × {item.name} ({item.sku}): {labels.no_stock(language)}"


def logistics_ticket(backend: Backend, order: Order, choice: str, conversation_id: str, language: str,
                     lines: list[str]) -> str:
    """The ticket a choice opens for logistics, with the order attached; its id."""
    customer = backend.customer(order.customer_id)
    note = order.delay_reason or labels.delay_reason(order.delay_code, None, "es")
    ticket = backend.create_ticket(NewTicket(
        category="delivery",
        description=f"Pedido {order.id} retrasado ({note}): {_FOR_LOGISTICS[choice]}.",
        customer_id=order.customer_id,
        contact_email=customer.email if customer else None,
        order_id=order.id,
        conversation_id=conversation_id,
        language=language,
        extra={"notice_choice": choice, **({"alternatives": lines} if lines else {})},
    ))
    return ticket.id


class ActionNoticeChoice(Action):
    """The customer's answer to a delay notice: recorded on it, and acted upon."""

    def name(self) -> Text:
        return "action_notice_choice"

    @backend_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        language = lang(tracker)
        choice = _entity(tracker, "notice_choice")
        notice_id = _notice_id(tracker)
        details = store.details(notice_id) if notice_id else None
        contact_id = store.contact_of(tracker.sender_id)
        if details is None or choice not in labels.NOTICE_OPTIONS or contact_id is None \
                or details.contact_id != contact_id:
            dispatcher.utter_message(response="utter_anything_else")
            return []
        if choice == "person":
            store.record_choice(details.notice_id, contact_id, choice)
            return await ActionRequestHuman().run(dispatcher, tracker, domain)
        backend = get_backend()
        order = backend.order(details.event.order_id)
        if order is None:
            dispatcher.utter_message(response="utter_order_not_found", order_id=details.event.order_id)
            return []
        expected = labels.date(details.event.expected_date or order.expected_date, language)
        if choice == "wait":
            store.record_choice(details.notice_id, contact_id, choice)
            dispatcher.utter_message(response="utter_notice_wait", order_id=order.id, expected=expected)
            return []
        lines = alternatives(order, backend, language) if choice == "alternative" else []
        ticket_id = logistics_ticket(backend, order, choice, tracker.sender_id, language, lines)
        store.record_choice(details.notice_id, contact_id, choice, ticket_id)
        response = "utter_notice_alternative" if choice == "alternative" else "utter_notice_ship_ready"
        dispatcher.utter_message(response=response, order_id=order.id, alternatives="\n".join(lines),
                                 ticket_id=ticket_id)
        return []


class ActionNoticeConsent(Action):
    """ "Ya no quiero avisos" stops the notices; "quiero recibir avisos" turns them back on."""

    def name(self) -> Text:
        return "action_notice_consent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        opted_in = (tracker.latest_message.get("intent") or {}).get("name") == "start_notices"
        contact_id = store.contact_of(tracker.sender_id)
        if contact_id is not None:
            store.set_consent(contact_id, opted_in, tracker.get_latest_input_channel())
        dispatcher.utter_message(response="utter_notices_started" if opted_in else "utter_notices_stopped")
        return []
