"""Who may see what: nobody reads another customer's order, ticket or stock by guessing, on any channel.

Ana López (customer 1: PED-10234 shipped by Estafeta, ticket TCK-2041) and Carlos Hernández
(customer 2: PED-10236, ticket TCK-2042) from the demo data; Compunet del Norte is a distributor.
Every refusal has a control next to it (the owner asking the same), so a test cannot pass merely
because the assistant answered nothing at all.
"""
from __future__ import annotations

import math
import re

import pytest

from bot import linking
from bot.store.normalize import canonical_phone
from tests.connectors.support import random_mobile
from tests.reliability.clients import (
    ANA_EMAIL,
    ANA_PHONE,
    CARLOS_EMAIL,
    CARLOS_PHONE,
    COMPUNET_PHONE,
    Store,
    WebChat,
    new_chat,
    telegram,
    texts_to,
    wait_for_text,
    whatsapp,
)
from tests.reliability.stack import SplitStack

pytestmark = pytest.mark.model

ANA_TRACKING = "8055241234567890123456"  # PED-10234's tracking number
CARLOS_ITEMS = "TL-SG108"  # in PED-10236
NOT_FOUND_ORDER = "No encontré el pedido"
NOT_FOUND_TICKET = "No encontré el reporte"
ONLY_DISTRIBUTORS = ("solo están disponibles para distribuidores", "only available to verified distributors")
CODE = re.compile(r"LINK-[A-Z0-9]{8}")


def ask_whatsapp(stack: SplitStack, fakes, number: str, text: str, *needles: str) -> str:
    after = len(texts_to(fakes.twilio, number))
    whatsapp(stack, number, text)
    return wait_for_text(fakes.twilio, number, *needles, after=after)


def ask_telegram(stack: SplitStack, fakes, chat: int, text: str, *needles: str) -> str:
    after = len(texts_to(fakes.telegram, chat))
    telegram(stack, chat, text)
    return wait_for_text(fakes.telegram, chat, *needles, after=after)


def test_web_chat_anonymous_needs_the_orders_own_email(stack: SplitStack) -> None:
    guesser = WebChat(stack)
    assert any("correo" in r for r in guesser.say("¿dónde está mi pedido PED-10234?"))
    refused = "\n".join(guesser.say(CARLOS_EMAIL))
    assert NOT_FOUND_ORDER in refused and "Estafeta" not in refused and ANA_TRACKING not in refused
    # Ticket numbers are guessed the same way: an email that is not the ticket's gets nothing.
    guesser.say("quiero saber cómo va mi reporte TCK-2041")
    refused = "\n".join(guesser.say(CARLOS_EMAIL))
    assert NOT_FOUND_TICKET in refused and "TCK-2041:" not in refused
    # control: the order's own email opens it
    owner = WebChat(stack)
    owner.say("¿dónde está mi pedido PED-10234?")
    allowed = "\n".join(owner.say(ANA_EMAIL))
    assert "Estafeta" in allowed and ANA_TRACKING in allowed


def test_whatsapp_a_verified_phone_sees_its_own_orders_and_tickets_only(stack: SplitStack, fakes) -> None:
    Store(stack.database_url).close_conversations_of_phone(ANA_PHONE)
    refused = ask_whatsapp(stack, fakes, ANA_PHONE, "¿dónde está el pedido PED-10236?", "PED-10236")
    assert NOT_FOUND_ORDER in refused and CARLOS_ITEMS not in refused
    refused = ask_whatsapp(stack, fakes, ANA_PHONE, "¿cómo va el reporte TCK-2042?", "TCK-2042")
    assert NOT_FOUND_TICKET in refused
    # An email typed in the chat does not widen what a verified phone may see.
    refused = ask_whatsapp(stack, fakes, ANA_PHONE, f"¿dónde está el pedido PED-10236? mi correo es {CARLOS_EMAIL}",
                           "PED-10236")
    assert NOT_FOUND_ORDER in refused and CARLOS_ITEMS not in refused
    # control: her own
    allowed = ask_whatsapp(stack, fakes, ANA_PHONE, "¿dónde está mi pedido PED-10234?", "PED-10234")
    assert "Estafeta" in allowed and ANA_TRACKING in allowed
    allowed = ask_whatsapp(stack, fakes, ANA_PHONE, "¿cómo va mi reporte TCK-2041?", "TCK-2041")
    assert NOT_FOUND_TICKET not in allowed


def test_telegram_an_unverified_chat_gets_nothing_with_a_wrong_email(stack: SplitStack, fakes) -> None:
    chat = new_chat()
    ask_telegram(stack, fakes, chat, "where is my order PED-10236?", "email")
    refused = ask_telegram(stack, fakes, chat, ANA_EMAIL, "PED-10236")
    assert "couldn't find order" in refused and CARLOS_ITEMS not in refused
    ask_telegram(stack, fakes, chat, "where is my order PED-10236?", "email")
    allowed = ask_telegram(stack, fakes, chat, CARLOS_EMAIL, "PED-10236")
    assert CARLOS_ITEMS in allowed  # control


def test_stock_levels_only_for_verified_distributors_on_every_channel(stack: SplitStack, fakes) -> None:
    Store(stack.database_url).close_conversations_of_phone(ANA_PHONE)
    question = "¿cuántos toner HP 58A tienen en Puebla?"
    answers = {
        "web chat": "\n".join(WebChat(stack).say(question)),
        "whatsapp customer": ask_whatsapp(stack, fakes, ANA_PHONE, question, "distribuidores"),
        "whatsapp stranger": ask_whatsapp(stack, fakes, random_mobile(), question, "distribuidores"),
        "telegram": ask_telegram(stack, fakes, new_chat(), question, "distribuidores"),
    }
    for channel, answer in answers.items():
        assert any(p in answer for p in ONLY_DISTRIBUTORS), channel
        assert not re.search(r"\d+\s*(unidades|units|pzas)", answer), channel
    # control: the distributor's registered phone gets the numbers
    Store(stack.database_url).close_conversations_of_phone(COMPUNET_PHONE)
    allowed = ask_whatsapp(stack, fakes, COMPUNET_PHONE, question, "CF258A")
    assert re.search(r"\d+\s*(unidades|units)", allowed) or "Puebla" in allowed


def test_two_verified_phones_never_merge_through_a_link_code(stack: SplitStack, fakes) -> None:
    store = Store(stack.database_url)
    store.close_conversations_of_phone(ANA_PHONE)
    store.close_conversations_of_phone(CARLOS_PHONE)
    code_message = ask_whatsapp(stack, fakes, ANA_PHONE, "quiero unir mi telegram a este chat", "LINK-")
    code = CODE.search(code_message).group(0)
    refused = ask_whatsapp(stack, fakes, CARLOS_PHONE, code, "No puedo unir")
    assert "teléfonos o correos distintos" in refused
    ana, carlos = store.contact_of("whatsapp", ANA_PHONE), store.contact_of("whatsapp", CARLOS_PHONE)
    assert ana.id != carlos.id
    assert ana.phone == canonical_phone(ANA_PHONE) and carlos.phone == canonical_phone(CARLOS_PHONE)
    carlos_conversation = store.conversation_of("whatsapp", CARLOS_PHONE)
    assert all(m.conversation_id == carlos_conversation.id
               for m in store.messages_of("whatsapp", CARLOS_PHONE))


def test_guessing_link_codes_is_bounded_and_the_odds_are_reported(stack: SplitStack, fakes) -> None:
    space = len(linking.ALPHABET) ** linking.CODE_LENGTH
    assert len(set(linking.ALPHABET)) == 31 and linking.CODE_LENGTH == 8 and space == 31 ** 8
    per_hour = linking.MAX_FAILED_REDEEMS_PER_HOUR
    # One live code per contact, replaced on each request; an address gets `per_hour` wrong tries.
    odds = per_hour / space
    print(f"\nlink codes: {space:,} possible ({len(linking.ALPHABET)}^{linking.CODE_LENGTH}); "
          f"{per_hour} wrong guesses per hour per address; P(hit one given live code) <= {odds:.2e} per hour "
          f"per address; expected hours for one address to find it: {space / per_hour / 2:.2e}")
    assert odds < 1e-10 and math.isclose(odds, 10 / 852_891_037_441)

    # On the real stack, through a channel: the eleventh guess from one chat is refused unread,
    # even when it is the right code.
    owner, code = issue_from_web(stack)
    chat = new_chat()
    wrong = [f"LINK-{''.join(reversed(code[5:]))}"[:13]] + [f"LINK-{i:08d}" for i in range(per_hour - 1)]
    for guess in wrong:
        assert guess != code
        ask_telegram(stack, fakes, chat, guess, "no es válido")
    limited = ask_telegram(stack, fakes, chat, code, "Demasiados intentos")
    assert "Listo" not in limited
    store = Store(stack.database_url)
    assert store.contact_of("telegram", str(chat)).id != store.contact_of("webchat", owner.session_id).id


def issue_from_web(stack: SplitStack) -> tuple[WebChat, str]:
    chat = WebChat(stack)
    replies = chat.say("quiero unir mi whatsapp a este chat")
    code = next((m.group(0) for r in replies for m in [CODE.search(r)] if m), None)
    assert code, replies
    return chat, code
