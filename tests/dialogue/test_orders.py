"""Where is my order, in both languages, and only for its owner."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.model

ANA_PHONE = "+5215512345678"


def joined(texts: list[str]) -> str:
    return "\n".join(texts)


def test_anonymous_customer_confirms_email_and_gets_status_in_spanish(chat, sender):
    reply = joined(chat.texts(sender, "hola, quiero saber dónde está mi pedido"))
    assert "número de pedido" in reply
    reply = joined(chat.texts(sender, "es el ped 10234"))
    assert "correo" in reply
    reply = joined(chat.texts(sender, "ana.lopez@example.com"))
    assert "PED-10234" in reply
    assert "Estafeta" in reply and "Guía" in reply and "Entrega estimada" in reply


def test_verified_customer_gets_status_in_english_without_being_asked_for_email(chat, verified):
    sender = verified(phone=ANA_PHONE)
    reply = joined(chat.texts(sender, "where is my order PED-10234?"))
    assert "Order PED-10234" in reply
    assert "Carrier: Estafeta" in reply and "Expected delivery" in reply


def test_delayed_order_says_so_and_offers_a_ticket_that_is_opened_on_yes(chat, verified):
    sender = verified(phone=ANA_PHONE)
    reply = joined(chat.texts(sender, "mi pedido PED-10235 no ha llegado, donde viene?"))
    assert "retraso" in reply and "reporte" in reply
    reply = joined(chat.texts(sender, "sí"))
    assert "TCK-" in reply and "reporte" in reply


def test_the_reason_for_a_delay_is_given_in_the_customers_language(chat, verified):
    spanish = joined(chat.texts(verified(phone=ANA_PHONE), "¿dónde viene mi pedido PED-10235?"))
    assert "viene con retraso: retraso de la paquetería por lluvias." in spanish  # logistics' own words
    english = joined(chat.texts(verified(phone=ANA_PHONE), "where is my order PED-10235?"))
    assert "is delayed: bad weather on the carrier's route." in english
    assert "lluvias" not in english


@pytest.mark.parametrize("answer, expected", [("si", "TCK-"), ("no", "algo más")])
def test_the_answer_to_the_ticket_offer_gets_one_reply_after_the_email_check(chat, sender, answer, expected):
    """Anonymous, so the order form asks for the email first; the yes or no is then answered
    once, not followed by "I didn't get that" (the rule did not say that the offer is cleared)."""
    chat.texts(sender, "buenas, mi pedido 10235 no ha llegado")
    reply = joined(chat.texts(sender, "ana.lopez@example.com"))
    assert "retraso" in reply and "reporte" in reply
    replies = chat.texts(sender, answer)
    assert expected in joined(replies)
    assert len(replies) == 1 and "no te entendí" not in joined(replies)


def test_someone_elses_order_reads_exactly_like_a_missing_one(chat, verified):
    stranger = verified(phone="+5215599998888")
    other = joined(chat.texts(stranger, "estatus del pedido PED-10240"))
    missing = joined(chat.texts(verified(phone="+5215599998888"), "estatus del pedido PED-99999"))
    assert "No encontré el pedido PED-10240" in other
    assert other.replace("PED-10240", "X") == missing.replace("PED-99999", "X")


def test_wrong_email_gets_the_not_found_answer(chat, sender):
    chat.texts(sender, "where is my order?")
    chat.texts(sender, "PED-10234")
    reply = joined(chat.texts(sender, "someone@evil.example"))
    assert "couldn't find order PED-10234" in reply
    assert "Estafeta" not in reply


def test_malformed_order_number_is_asked_again_politely(chat, sender):
    chat.texts(sender, "quiero rastrear mi pedido")
    reply = joined(chat.texts(sender, "abc-12"))
    assert "PED-10234" in reply  # the example of what an order number looks like


def test_cancel_leaves_the_form(chat, sender):
    chat.texts(sender, "donde esta mi pedido")
    reply = joined(chat.texts(sender, "cancelar"))
    assert "lo dejamos" in reply
    assert chat.tracker(sender).active_loop_name is None


def test_cancel_leaves_the_form_in_english(chat, sender):
    chat.texts(sender, "where is my order")
    reply = joined(chat.texts(sender, "never mind, cancel"))
    assert "I've stopped that" in reply
    assert chat.tracker(sender).active_loop_name is None


@pytest.mark.parametrize(
    "text",
    [
        "¿dónde está mi pedido PED-10234? mi correo es ana.lopez@example.com",
        "PED-10234 ana.lopez@example.com",
        "where is my order PED-10234? my email is ana.lopez@example.com",
    ],
)
def test_order_number_and_email_in_one_message_get_the_status_at_once(chat, sender, text):
    reply = joined(chat.texts(sender, text))
    assert "PED-10234" in reply and "Estafeta" in reply
