"""actions/forms.py: what the order, ticket and stock forms ask, by who the verified contact is."""
from __future__ import annotations

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import VerifiedContactForm, parse_email
from actions.identity import ANONYMOUS, VerifiedContact
from actions.orders import ValidateOrderStatusForm
from actions.stock import ValidateStockForm
from actions.tickets import ValidateOpenTicketForm, ValidateTicketStatusForm

ORDER_SLOTS = ["order_id", "email"]
VERIFIED_PHONE = VerifiedContact(1, "+5215512345678", None, False)
VERIFIED_EMAIL = VerifiedContact(2, None, "ana.lopez@example.com", False)
CONTACT_FORMS = [ValidateOrderStatusForm, ValidateOpenTicketForm, ValidateTicketStatusForm]


@pytest.mark.parametrize("form", CONTACT_FORMS)
@pytest.mark.parametrize("contact", [VERIFIED_PHONE, VERIFIED_EMAIL])
def test_a_verified_contact_is_not_asked_for_an_email(form: type[VerifiedContactForm], contact: VerifiedContact) -> None:
    assert form().slots_for(contact, ORDER_SLOTS) == ["order_id"]


@pytest.mark.parametrize("form", CONTACT_FORMS)
def test_an_unverified_contact_confirms_the_email(form: type[VerifiedContactForm]) -> None:
    assert form().slots_for(ANONYMOUS, ORDER_SLOTS) == ORDER_SLOTS


def test_the_stock_form_asks_a_distributor_everything_and_anyone_else_nothing(database_url: str) -> None:
    slots = ["product", "branch", "quantity"]
    form = ValidateStockForm()
    assert form.slots_for(VerifiedContact(3, None, None, True), slots) == slots  # marked on the contact
    assert form.slots_for(VerifiedContact(4, "+524775550303", None, False), slots) == slots  # a distributor's phone in the ERP
    assert form.slots_for(VERIFIED_PHONE, slots) == []  # a customer, not a distributor
    assert form.slots_for(ANONYMOUS, slots) == []


def test_validate_email_keeps_the_address_and_complains_about_anything_else() -> None:
    tracker = Tracker("s", {}, {}, [], False, None, {}, "")
    dispatcher = CollectingDispatcher()
    form = ValidateOpenTicketForm()
    assert form.validate_email("es Ana.Lopez@Example.com gracias", dispatcher, tracker, {}) == {"email": "ana.lopez@example.com"}
    assert dispatcher.messages == []
    assert form.validate_email("no tengo", dispatcher, tracker, {}) == {"email": None}
    assert [m["response"] for m in dispatcher.messages] == ["utter_invalid_email"]
    assert parse_email(None) is None
