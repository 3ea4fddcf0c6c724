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
