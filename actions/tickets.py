"""Complaints become tickets: the open-ticket form, the delayed-order shortcut and ticket status."""
from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import identity, labels
from actions.backend import get_backend
from actions.backend.base import NewTicket, Order, Ticket
from actions.common import backend_guard, lang
from actions.forms import VerifiedContactForm, checked, parse_email
from actions.orders import is_owner
from bot import sla
from bot.folding import fold
from bot.typed_values import find_order_ids, find_ticket_ids, normalise_ticket_id

logger = logging.getLogger(__name__)

MAX_DESCRIPTION = 2000

# Word beginnings (accent-free, lowercase) that place free text in a category; the first group
# that matches wins, so a damaged product that arrived ("llegó rota") is a warranty case, not a
# delivery one. A stem matches at the start of a word ("cargo" is a charge, "cargador" a charger),
# and a stem ending in $ only as a whole word ("charge", not "charger").
_CATEGORY_WORDS: list[tuple[str, tuple[str, ...]]] = [
    ("billing", ("factur", "cobr", "cargo", "pago", "bill", "invoic", "charge$", "charges$", "charged",
                 "payment", "cfdi", "refund", "reembols", "overcharg", "precio", "price", "iva$")),
    ("warranty", ("garant", "warrant", "danad", "dano$", "roto", "rota$", "rotas$", "estrellad", "quebrad",
                  "rajad", "trizad",
                  "no prende", "no enciende", "no funciona", "no sirve", "no jala", "no carga", "no imprime",
                  "no da imagen", "no da video", "dejo de funcionar", "se apaga", "se calienta", "se reinicia",
                  "falla", "defect", "broke", "damag", "crack", "shatter", "faulty", "dead$", "not working",
                  "stopped working", "doesn't work", "does not work", "doesn't turn on", "won't turn on",
                  "won't power", "won't charge", "won't boot", "doesn't charge", "not turning on", "shuts",
                  "overheat", "malfunction")),
    # A wrong or missing item is about what was sent, whether or not it arrived on time.
    ("order", ("equivocad", "wrong", "incorrect", "falt", "missing", "incomplet", "en vez de", "en lugar de",
               "instead of", "otro modelo", "different model")),
    ("delivery", ("entreg", "envio", "llega", "llego", "paqueter", "guia", "deliver", "shipping", "shipment",
                  "arriv", "courier", "retras", "demor", "tarde$", "late$", "delay", "package", "paquete")),
    ("order", ("pedido", "orden", "order", "compra")),
    ("product", ("producto", "product", "equipo")),
]
_CATEGORY_PATTERNS = [
    (category, re.compile(r"\b(?:" + "|".join(
        re.escape(stem[:-1]) + r"\b" if stem.endswith("$") else re.escape(stem) for stem in stems) + ")"))
    for category, stems in _CATEGORY_WORDS
]


# Button payloads of utter_ask_ticket_category.
_OPTION_CODES = {"#delivery": "delivery", "#warranty": "warranty", "#billing": "billing", "#other": "other"}


def categorise(text: str) -> Optional[str]:
    """The ticket category a button payload or free text points to; None when nothing does."""
    if text.strip().lower() in _OPTION_CODES:
        return _OPTION_CODES[text.strip().lower()]
    folded = fold(text).replace("’", "'")
    for category, pattern in _CATEGORY_PATTERNS:
        if pattern.search(folded):
            return category
    if folded.strip() in ("otro", "other", "otra cosa", "something else", "4"):
        return "other"
    return None


_IDS_AND_EMAILS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|\b(?:ped|tck|#)?[-# ]?\d+\b", re.IGNORECASE)


def describes_something(text: str) -> bool:
    """A description needs words: an e-mail address or an order number alone is not one (it is
    what someone types when they answer the wrong question)."""
    rest = _IDS_AND_EMAILS.sub(" ", text)
    return sum(ch.isalpha() for ch in rest) >= 3


class ActionStartComplaint(Action):
    """A problem stated with no form active ("me llegó la impresora dañada") is already the
    ticket's description, and often says its category: both are filled before the open-ticket
    form starts, which validates them on activation and asks only for what is still missing."""

    def name(self) -> Text:
        return "action_start_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        text = str(tracker.latest_message.get("text") or "").strip()
        description = text[:MAX_DESCRIPTION] if describes_something(text) else None
        return [SlotSet("ticket_description", description), SlotSet("ticket_category", categorise(text))]


class ValidateOpenTicketForm(VerifiedContactForm):
    def name(self) -> Text:
        return "validate_open_ticket_form"

    def validate_ticket_category(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = str(slot_value or "").strip()
        # An order number given as the answer ("PED-10234") says the ticket is about that order.
        category = categorise(text) or ("order" if find_order_ids(text) else "other")
        result: Dict[Text, Any] = {"ticket_category": category}
        # Someone who skips the buttons and tells the story has given the description too.
        if text.lower() not in _OPTION_CODES and len(text.split()) >= 4 and not tracker.get_slot("ticket_description"):
            result["ticket_description"] = text[:MAX_DESCRIPTION]
        return result

    def validate_ticket_description(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = str(slot_value or "").strip()
        if not describes_something(text):
            return {"ticket_description": None}  # asked again
        return {"ticket_description": text[:MAX_DESCRIPTION]}


def start_sla(ticket: Ticket) -> None:
    """Starts a new ticket's SLA timers (a warning to the agents at 80 % of its business time, an
    alert at its due time). A failure is logged, never the customer's: the ticket is filed."""
    try:
        sla.start_ticket(ticket.id, ticket.created_at, ticket.due_at, ticket.conversation_id, ticket.area,
                         ticket.priority)
    except Exception:  # noqa: BLE001
        logger.exception("could not start the SLA timers of ticket %s", ticket.id)


def _confirm(dispatcher: CollectingDispatcher, ticket: Ticket, language: str) -> None:
    """A ticket just filed: its SLA timers start, and the customer reads its number and due time."""
    start_sla(ticket)
    dispatcher.utter_message(
        response="utter_ticket_created",
        ticket_id=ticket.id,
        priority=labels.priority(ticket.priority, language),
        area=labels.area(ticket.area, language),
        due=labels.datetime(ticket.due_at, language),
    )


def _customer_id(tracker: Tracker) -> Optional[int]:
    customers = identity.customers_of(identity.of_conversation(tracker.sender_id), get_backend())
    return customers[0].id if customers else None


class ActionCreateTicket(Action):
    def name(self) -> Text:
        return "action_create_ticket"

    @backend_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        language = lang(tracker)
        description = str(tracker.get_slot("ticket_description") or "")
        order_ids = find_order_ids(description)
        ticket = get_backend().create_ticket(
            NewTicket(
                category=str(tracker.get_slot("ticket_category") or "other"),
                description=description,
                customer_id=_customer_id(tracker),
                contact_email=parse_email(tracker.get_slot("email")),
                order_id=order_ids[0] if order_ids else None,
                conversation_id=tracker.sender_id,
                language=language,
            )
        )
        _confirm(dispatcher, ticket, language)
        return [SlotSet("ticket_category", None), SlotSet("ticket_description", None)]


def _delay_for_team(order: Optional[Order]) -> str:
    """Logistics' own note when there is one: the team reads Spanish and wants the detail."""
    if order is None:
        return ""
    return order.delay_reason or labels.delay_reason(order.delay_code, None, "es")


async def open_delay_ticket(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict[Text, Any]]:
    """The customer accepted a ticket for a delayed order they were just shown."""
    language = lang(tracker)
    order_id = tracker.get_slot("offer_order_id")
    backend = get_backend()
    order = backend.order(order_id) if order_id else None
    customer = backend.customer(order.customer_id) if order else None
    ticket = backend.create_ticket(
        NewTicket(
            category="delivery",
            # For the team, in its language, whatever the customer's: the ticket records theirs.
            description=f"Pedido {order_id} retrasado: {_delay_for_team(order)}".strip(),
            customer_id=customer.id if customer else None,
            contact_email=customer.email if customer else None,
            order_id=order_id,
            conversation_id=tracker.sender_id,
            language=language,
        )
    )
    _confirm(dispatcher, ticket, language)
    return [SlotSet("offer_order_id", None)]


class ValidateTicketStatusForm(VerifiedContactForm):
    def name(self) -> Text:
        return "validate_ticket_status_form"

    def validate_ticket_id(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        text = str(slot_value or "")
        ticket_id = normalise_ticket_id(text) or next(iter(find_ticket_ids(text)), None)
        return checked("ticket_id", ticket_id, "utter_invalid_ticket_id", dispatcher)


class ActionCheckTicket(Action):
    def name(self) -> Text:
        return "action_check_ticket"

    @backend_guard
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        language = lang(tracker)
        ticket_id = normalise_ticket_id(str(tracker.get_slot("ticket_id") or ""))
        backend = get_backend()
        who = identity.of_conversation(tracker.sender_id)
        email = None if who.verified else parse_email(tracker.get_slot("email"))
        ticket = backend.ticket(ticket_id) if ticket_id else None
        known_email = (who.email or email or "").lower()
        allowed = ticket is not None and (
            is_owner(ticket.customer_id, who, email, backend)
            or bool(known_email and (ticket.contact_email or "").lower() == known_email)
        )
        if not allowed:
            dispatcher.utter_message(response="utter_ticket_not_found", ticket_id=ticket_id or "-")
            return [SlotSet("ticket_id", None), SlotSet("email", None)]
        dispatcher.utter_message(
            response="utter_ticket_status",
            ticket_id=ticket.id,
            status=labels.ticket_status(ticket.status, language),
            category=labels.category(ticket.category, language),
            area=labels.area(ticket.area, language),
            due=labels.datetime(ticket.due_at, language),
        )
        return [SlotSet("ticket_id", None)]
