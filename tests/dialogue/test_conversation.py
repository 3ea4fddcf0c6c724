"""Greeting, language, FAQs, fallback, handoff and bad input."""
from __future__ import annotations

import functools

import pytest
import yaml

from bot.config import ROOT
from bot.db import session_scope
from bot.store.models import Conversation

pytestmark = pytest.mark.model


def joined(texts: list[str]) -> str:
    return "\n".join(texts)


def test_answers_in_the_language_of_the_person(chat, sender):
    assert "asistente virtual" in joined(chat.texts(sender, "hola buenas tardes"))
    assert "virtual assistant" in joined(chat.texts(sender, "hello there"))
    # A message with no language evidence keeps the conversation's language.
    assert chat.tracker(sender).get_slot("language") == "en"
    chat.texts(sender, "PED-10234")
    assert chat.tracker(sender).get_slot("language") == "en"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a que hora abren el sabado?", "9:00"),
        ("what are your opening hours?", "9:00"),
        ("aceptan pagos con SPEI?", "SPEI"),
        ("do you take credit cards?", "card"),
        ("como le hago para ser distribuidor", "RFC"),
        ("necesito mi factura, como la pido", "CFDI"),
        ("venden impresoras?", "mayoristas de tecnología"),
        ("what brands do you carry", "IT wholesaler"),
    ],
)
def test_faqs_are_answered(chat, sender, text, expected):
    assert expected in joined(chat.texts(sender, text))


@pytest.mark.parametrize(
    "opening, closing, expected",
    [
        ("hola", "gracias, adiós", "Hasta luego"),
        ("hola", "muchas gracias, hasta luego", "Hasta luego"),
        ("hi", "thanks, bye", "Goodbye"),
        ("hi", "ok thanks bye", "Goodbye"),
    ],
)
def test_thanks_with_a_farewell_is_a_goodbye_not_a_miss(chat, sender, opening, closing, expected):
    """The commonest last message; thank and goodbye tied on it and the fallback answered."""
    chat.texts(sender, opening)
    assert expected in joined(chat.texts(sender, closing))


@pytest.mark.parametrize("opening, bare, expected", [("hola", "?", "no te entendí"), ("hi", "...", "didn't quite get")])
def test_punctuation_alone_gets_the_fallback_not_an_faq(chat, sender, opening, bare, expected):
    chat.texts(sender, opening)
    assert expected in joined(chat.texts(sender, bare))


def test_bot_challenge(chat, sender):
    assert "virtual" in joined(chat.texts(sender, "eres un robot?"))


def test_two_misses_in_a_row_offer_a_person(chat, sender):
    chat.texts(sender, "hola")
    first = joined(chat.texts(sender, "cuál es la capital de mongolia"))
    assert first and "asesor" not in first  # a helpful answer, no offer yet
    second = joined(chat.texts(sender, "quién ganó el mundial de 1986"))
    assert "asesor" in second
    reply = joined(chat.texts(sender, "si"))
    assert "Te comunico con un asesor" in reply


@pytest.mark.parametrize(
    "text, expected, later",
    [
        ("quiero hablar con una persona", "asesor", "hola?"),
        ("I want to talk to a real person", "I'm putting you through to an agent", "hello?"),
    ],
)
def test_request_human_pauses_the_bot_and_marks_the_conversation(chat, sender, text, expected, later):
    reply = joined(chat.texts(sender, text))
    assert expected in reply  # in the person's language
    assert chat.tracker(sender).is_paused()
    with session_scope() as session:
        assert session.get(Conversation, sender).status == "waiting_agent"
    # While paused the bot says nothing.
    assert chat.texts(sender, later) == []


def test_two_misses_in_a_row_offer_a_person_in_english(chat, sender):
    chat.texts(sender, "hi there")
    first = joined(chat.texts(sender, "what is the capital of mongolia"))
    assert first and "agent" not in first and "asesor" not in first
    second = joined(chat.texts(sender, "who won the world cup in 1986"))
    assert "put you through to an agent" in second
    reply = joined(chat.texts(sender, "yes please"))
    assert "I'm putting you through to an agent" in reply
    assert chat.tracker(sender).is_paused()


def test_declining_the_offer_keeps_the_bot_talking(chat, sender):
    chat.texts(sender, "hello")
    chat.texts(sender, "what is the capital of mongolia")
    assert "agent" in joined(chat.texts(sender, "who won the world cup in 1986"))
    declined = chat.texts(sender, "no thanks")
    assert len(declined) == 1 and "didn't quite get" not in declined[0]
    assert not chat.tracker(sender).is_paused()
    assert "9:00" in joined(chat.texts(sender, "what are your opening hours?"))


@functools.lru_cache(maxsize=1)
def _responses() -> dict:
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]


def said(response: str, language: str) -> str:
    """The exact text domain.yml gives `response` in `language` (English is the conditioned variant)."""
    for variant in _responses()[response]:
        english = any(c.get("name") == "language" and c.get("value") == "en" for c in variant.get("condition") or [])
        if english == (language == "en"):
            return variant["text"]
    raise KeyError(f"{response} has no {language} text")


# What a polite answer to input it cannot use is: saying so, and what it can do.
MISUNDERSTOOD = ("utter_fallback", "utter_out_of_scope")


@pytest.mark.parametrize(
    "text, language, polite",
    [
        ("", "es", MISUNDERSTOOD),
        ("😀😀😀", "es", MISUNDERSTOOD + ("utter_ok",)),  # smileys may read as an acknowledgement
        ("a" * 5000, "es", MISUNDERSTOOD),
        ("PED-", "es", MISUNDERSTOOD + ("utter_ask_order_id", "utter_invalid_order_id")),
        ("pedido #", "es", MISUNDERSTOOD + ("utter_ask_order_id", "utter_invalid_order_id")),
        # "orders" is English to the language detector, and "drop" may read as "cancel"
        ("'; DROP TABLE orders; --", "en", MISUNDERSTOOD + ("utter_nothing_to_cancel",)),
        ("<script>alert(1)</script>", "es", MISUNDERSTOOD),
    ],
)
def test_bad_input_gets_a_polite_reply_and_no_exception(chat, sender, text, language, polite):
    replies = chat.texts(sender, text)
    assert len(replies) == 1, replies
    assert replies[0] in {said(response, language) for response in polite}, replies


def test_information_out_of_context_gets_one_answer_not_a_loop(chat, sender):
    replies = chat.texts(sender, "5")
    assert len(replies) == 1


def test_a_bare_order_number_starts_the_order_lookup(chat, sender):
    reply = joined(chat.texts(sender, "PED-10234"))
    assert "correo" in reply  # anonymous: asked to confirm the order's email
