"""Complaints become tickets with an id, a priority, a responsible area and a due time."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from actions.backend.tables import Ticket
from bot.db import session_scope

pytestmark = pytest.mark.model


def joined(texts: list[str]) -> str:
    return "\n".join(texts)


def test_anonymous_complaint_in_spanish_creates_a_ticket(chat, sender):
    reply = joined(chat.texts(sender, "quiero levantar una queja"))
    assert "reporte" in reply
    chat.texts(sender, "#warranty")  # the button's payload
    reply = joined(chat.texts(sender, "el monitor llegó con la pantalla estrellada"))
    assert "correo" in reply
    reply = joined(chat.texts(sender, "cliente.nuevo@example.com"))
    assert "TCK-" in reply and "prioridad" in reply
    with session_scope() as session:
        ticket = session.execute(select(Ticket).where(Ticket.conversation_id == sender)).scalar_one()
        assert ticket.contact_email == "cliente.nuevo@example.com"
        assert ticket.category == "warranty" and ticket.area == "after_sales"
        assert "pantalla estrellada" in ticket.description


def test_an_order_number_and_an_email_are_not_taken_for_the_description(chat, sender):
    """Answers to the wrong question: the order number as the category, the e-mail as the story."""
    chat.texts(sender, "tengo un problema con mi pedido")
    reply = joined(chat.texts(sender, "PED-10234"))
    assert "qué pasó" in reply
    reply = joined(chat.texts(sender, "ana.lopez@example.com"))
    assert "TCK-" not in reply and "qué pasó" in reply  # asked again
    reply = joined(chat.texts(sender, "llegaron 3 mouse en vez de 5"))
    assert "TCK-" in reply
    with session_scope() as session:
        ticket = session.execute(select(Ticket).where(Ticket.conversation_id == sender)).scalar_one()
        assert ticket.category == "order" and ticket.description == "llegaron 3 mouse en vez de 5"
        assert ticket.contact_email == "ana.lopez@example.com"


def test_verified_customer_opens_ticket_in_english_and_checks_its_status(chat, verified):
    sender = verified(phone="+5215512345678")
    chat.texts(sender, "I want to file a complaint")
    chat.texts(sender, "#billing")
    reply = joined(chat.texts(sender, "you charged my card twice for the same invoice"))
    assert "ticket TCK-" in reply and "billing" in reply
    ticket_id = reply.split("ticket ")[1].split(" ")[0]
    reply = joined(chat.texts(sender, f"what's the status of ticket {ticket_id}?"))
    assert f"Ticket {ticket_id}" in reply and "open" in reply


def test_ticket_of_another_customer_is_not_shown(chat, verified):
    sender = verified(phone="+5215577776666")
    reply = joined(chat.texts(sender, "como va mi reporte TCK-2041?"))
    assert "No encontré el reporte TCK-2041" in reply


# --- a complaint stated as a fact, as the first message ----------------------------------------

ASKS_FOR_EMAIL = {"es": "¿A qué correo electrónico te enviamos el seguimiento del reporte?",
                  "en": "Which email address should we send the ticket updates to?"}
FALLBACK = {"es": "no te entendí", "en": "didn't quite get that"}


def only_ticket(sender: str) -> Ticket:
    with session_scope() as session:
        ticket = session.execute(select(Ticket).where(Ticket.conversation_id == sender)).scalar_one()
        session.expunge(ticket)
        return ticket


@pytest.mark.parametrize("lang, complaint, category", [
    ("es", "me llegó la impresora dañada", "warranty"),
    ("es", "el equipo no enciende, necesito soporte", "warranty"),
    ("es", "la pantalla llegó estrellada", "warranty"),
    ("es", "me llegó la impresora con la charola rota", "warranty"),
    ("es", "me faltaron dos cajas de toner en la entrega", "order"),
    ("es", "me cobraron dos veces la misma factura", "billing"),
    ("en", "my laptop arrived broken", "warranty"),
    ("en", "two items were missing from my delivery", "order"),
    ("en", "the laptop screen is cracked", "warranty"),
    ("en", "you sent me the wrong toner", "order"),
    ("en", "i was charged twice for the same invoice", "billing"),
])
def test_a_stated_problem_as_first_message_opens_a_ticket_with_it(chat, sender, lang, complaint, category):
    """No "I want to complain" first: the problem itself starts the form, as its description."""
    reply = joined(chat.texts(sender, complaint))
    assert ASKS_FOR_EMAIL[lang] in reply and FALLBACK[lang] not in reply
    reply = joined(chat.texts(sender, "cliente.directo@example.com"))
    assert "TCK-" in reply
    ticket = only_ticket(sender)
    assert ticket.description == complaint and ticket.category == category
    assert ticket.contact_email == "cliente.directo@example.com"


def test_a_verified_customer_gets_the_ticket_from_the_problem_alone(chat, verified):
    """Nothing left to ask: a cracked screen goes to after-sales (not the general team, low), in one turn."""
    sender = verified(phone="+5213311112222")
    reply = joined(chat.texts(sender, "hi, the laptop screen is cracked"))
    assert "ticket TCK-" in reply and "normal priority" in reply and "after-sales and warranty" in reply
    ticket = only_ticket(sender)
    assert ticket.category == "warranty" and ticket.area == "after_sales" and ticket.priority == "normal"
    assert ticket.description == "hi, the laptop screen is cracked"


def test_a_problem_with_no_clear_category_gets_the_category_question(chat, sender):
    reply = joined(chat.texts(sender, "el técnico que vino dejó la impresora peor que antes"))
    assert "¿Sobre qué es tu reporte?" in reply
    reply = joined(chat.texts(sender, "#other"))
    assert ASKS_FOR_EMAIL["es"] in reply
    chat.texts(sender, "queja.repartidor@example.com")
    ticket = only_ticket(sender)
    assert ticket.category == "other" and ticket.description == "el técnico que vino dejó la impresora peor que antes"


@pytest.mark.parametrize("lang, opening, complaint", [
    ("en", "I want to file a complaint", "two items were missing from my delivery"),
    ("es", "quiero levantar una queja", "me llegó la impresora dañada"),
])
def test_a_problem_typed_inside_the_form_is_the_description(chat, sender, lang, opening, complaint):
    chat.texts(sender, opening)
    chat.texts(sender, "#delivery")
    reply = joined(chat.texts(sender, complaint))
    assert ASKS_FOR_EMAIL[lang] in reply
    chat.texts(sender, "dentro.del.form@example.com")
    ticket = only_ticket(sender)
    assert ticket.category == "delivery" and ticket.description == complaint


def test_a_problem_given_as_the_category_answer_is_also_the_description(chat, sender):
    chat.texts(sender, "quiero poner una queja")
    reply = joined(chat.texts(sender, "me llegó la impresora dañada"))
    assert ASKS_FOR_EMAIL["es"] in reply
    chat.texts(sender, "respuesta.categoria@example.com")
    ticket = only_ticket(sender)
    assert ticket.category == "warranty" and ticket.description == "me llegó la impresora dañada"
