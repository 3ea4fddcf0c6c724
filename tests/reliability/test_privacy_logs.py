"""The server's logs carry no phone numbers, emails or customers' words at the default level.

Ana López writes on WhatsApp, the web chat and Telegram, opens a ticket, is handed to an agent in
Slack and back, and one of her messages meets a database hiccup (errors are where values leak).
Then the whole log file of the stack (Rasa server and action server, every test of the suite that
ran on it so far) is searched for her phone in every spelling, her email and her sentences.
"""
from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from tests.connectors.slack_fake import event_body, message_event, signed_headers
from tests.connectors.support import wait_until
from tests.reliability.clients import (
    AGENTS,
    ANA_EMAIL,
    ANA_NATIONAL,
    ANA_PHONE,
    IDENTITY_SECRET,
    SLACK,
    SLACK_SECRET,
    WEBCHAT,
    Store,
    WebChat,
    new_chat,
    telegram,
    texts_to,
    wait_for_text,
    whatsapp,
)
from tests.reliability.stack import SplitStack
from tests.reliability.test_faults import database_locked

pytestmark = pytest.mark.model

WORDS = [  # sentences only Ana says in this test (and the agent says to her)
    "mi impresora llegó con la bandeja rota",
    "guardé la caja original del envío",
    "Hola Ana, ya revisamos tu caso",
    "please check my invoice for march",
]


def say_on_whatsapp(stack: SplitStack, fakes, text: str, timeout: float = 90.0) -> None:
    before = len(texts_to(fakes.twilio, ANA_PHONE))
    answer, _ = whatsapp(stack, ANA_PHONE, text)
    assert answer.status_code == 200
    fakes.twilio.wait_for(lambda: len(texts_to(fakes.twilio, ANA_PHONE)) > before, timeout, f"a reply to {text!r}")
    time.sleep(0.5)


def test_a_whole_scenario_leaves_no_personal_data_in_the_logs(stack: SplitStack, fakes) -> None:
    store = Store(stack.database_url)
    store.close_conversations_of_phone(ANA_PHONE)

    # WhatsApp: her order, then a complaint that becomes a ticket.
    say_on_whatsapp(stack, fakes, "hola, ¿dónde está mi pedido PED-10234?")
    say_on_whatsapp(stack, fakes, "quiero levantar una queja")
    whatsapp(stack, ANA_PHONE, f"{WORDS[0]}, mi correo es {ANA_EMAIL}")
    wait_for_text(fakes.twilio, ANA_PHONE, "TCK-", timeout=120)  # the ticket she opened

    # Web chat: anonymous, confirming her email; then logged in on the company's site.
    anonymous = WebChat(stack)
    anonymous.say("where is my order PED-10234?")
    anonymous.say(ANA_EMAIL)
    anonymous.say(WORDS[3])
    user_id, ts = "ana-7781", int(time.time())
    signature = hmac.new(IDENTITY_SECRET, f"{user_id}|{ANA_EMAIL}|{ts}".encode(), hashlib.sha256).hexdigest()
    session = stack.post(WEBCHAT + "/session", json={"identity": {"user_id": user_id, "email": ANA_EMAIL, "ts": ts,
                                                                  "name": "Ana López", "signature": signature}})
    assert session.status_code == 200
    WebChat(stack, token=session.json()["token"]).say("¿cómo va mi reporte TCK-2041?")

    # Telegram: she shares her own contact, then asks about her ticket.
    chat = new_chat()
    telegram(stack, chat, "", contact={"phone_number": ANA_PHONE.lstrip("+"), "first_name": "Ana",
                                       "last_name": "López", "user_id": chat})
    wait_until(lambda: fakes.telegram.sent_to(chat), 90, "the greeting after sharing her contact")
    telegram(stack, chat, "¿cómo va mi reporte TCK-2041?")
    wait_for_text(fakes.telegram, chat, "TCK-2041")

    # A database hiccup while one of her messages is processed (the errors get logged).
    stack.freeze_actions()
    try:
        whatsapp(stack, ANA_PHONE, f"{WORDS[1]}; escríbeme a {ANA_EMAIL} o al {ANA_NATIONAL}")
        with database_locked(stack.database_url):
            stack.thaw_actions()
            time.sleep(7)
    finally:
        stack.thaw_actions()

    # Hand-off to an agent in Slack, the agent's reply, and back.
    store.close_conversations_of_phone(ANA_PHONE)
    say_on_whatsapp(stack, fakes, "quiero hablar con un asesor", timeout=150)
    wait_until(lambda: store.thread_of("whatsapp", ANA_PHONE), 90, "the Slack thread")
    root = store.thread_of("whatsapp", ANA_PHONE)
    for text in (WORDS[2], "resolve"):  # a reply in an unclaimed thread claims it; "resolve" closes it
        body = event_body(message_event(AGENTS, "U0AGENT01", text, f"{time.time():.6f}", root))
        assert stack.post(SLACK, content=body.encode(), headers=signed_headers(SLACK_SECRET, body)).status_code == 200
        if text == WORDS[2]:
            wait_for_text(fakes.twilio, ANA_PHONE, WORDS[2])
    wait_until(lambda: store.conversation_of("whatsapp", ANA_PHONE).status == "closed", 60, "the resolution")
    say_on_whatsapp(stack, fakes, "5")  # her satisfaction answer

    log = stack.log()
    assert "Rasa server is up and running" in log  # the right file, with the server's own lines
    leaks = [needle for needle in (ANA_PHONE, ANA_PHONE.lstrip("+"), "5215512345678", ANA_NATIONAL, "55 1234 5678",
                                   ANA_EMAIL, "ana.lopez", *WORDS) if needle in log]
    lines = [line for line in log.splitlines() if any(n in line for n in leaks)]
    assert not leaks, f"personal data in {stack.log_path}: {leaks}\n" + "\n".join(lines[:10])
