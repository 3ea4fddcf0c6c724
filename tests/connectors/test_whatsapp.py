"""WhatsApp through Twilio: signed webhooks in, REST API out (a fake Twilio on loopback), the
durable outbox against a failing provider, status callbacks and the 24-hour window."""
from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from urllib.parse import urlencode
from types import SimpleNamespace
from typing import Any, Iterator, Optional

import pytest
from sqlalchemy import update
from twilio.request_validator import RequestValidator

from bot import conversations
from bot.db import session_scope, utcnow
from bot.hub import Hub
from bot.messages import Button, Inbound, NoticeFields, Outbound
from bot.outbox import Outbox, SendError
from bot.store.models import Message
from connectors import whatsapp
from connectors.whatsapp import WhatsAppInput, WhatsAppSender, WhatsAppSettings
from tests.connectors.fake_providers import FakeTwilio
from tests.connectors.support import (
    BUSINESS_NUMBER,
    PUBLIC_URL,
    TWILIO_SID,
    TWILIO_TOKEN,
    Stack,
    fresh_start,
    inbound_with,
    messages_of,
    random_mobile,
    wait_until,
)

ANA = "+5215512345678"
WEBHOOK = "/webhooks/whatsapp/webhook"
STATUS = "/webhooks/whatsapp/status"
OFFER = "1. Sí, con un asesor\n2. No, gracias"


def settings(fake: FakeTwilio, template: Optional[str] = None) -> WhatsAppSettings:
    return WhatsAppSettings(TWILIO_SID, TWILIO_TOKEN, BUSINESS_NUMBER, PUBLIC_URL, fake.url, template)


def twilio_params(number: str, body: str, sid: Optional[str] = None, **extra: str) -> dict[str, str]:
    """An incoming-message webhook as Twilio posts it."""
    sid = sid or "SM" + uuid.uuid4().hex
    return {
        "SmsMessageSid": sid,
        "MessageSid": sid,
        "AccountSid": TWILIO_SID,
        "From": f"whatsapp:{number}",
        "To": f"whatsapp:{BUSINESS_NUMBER}",
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "ProfileName": "Ana López" if number == ANA else "Cliente de prueba",
        "WaId": number.lstrip("+"),
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def signature(path: str, params: dict[str, str], query: str = "") -> str:
    url = PUBLIC_URL + path + (f"?{query}" if query else "")
    return RequestValidator(TWILIO_TOKEN).compute_signature(url, params)


def post(stack: Stack, params: dict[str, str], path: str = WEBHOOK, sign: bool = True, query: str = ""):
    headers = {"X-Twilio-Signature": signature(path, params, query)} if sign else {}
    return stack.post(path + (f"?{query}" if query else ""), data=params, headers=headers)


def bodies(fake: FakeTwilio, number: str) -> list[str]:
    return [call.params.get("Body", "") for call in fake.sent_to(number)]


def reply_containing(fake: FakeTwilio, number: str, text: str, timeout: float = 90.0) -> str:
    return fake.wait_for(
        lambda: next((b for b in bodies(fake, number) if text in b), None), timeout, f"a reply containing {text!r}"
    )


def outbound_of(number: str) -> list[Message]:
    return [m for m in messages_of("whatsapp", number) if m.direction == "out"]


def settled(number: str) -> list[Message]:
    """The replies to `number` once every message from it is processed and none is pending: from
    then on nothing more is sent, so counts taken afterwards are final."""

    def done() -> Optional[list[Message]]:
        processed = all(m.delivery_status != "received" for m in messages_of("whatsapp", number) if m.direction == "in")
        out = outbound_of(number)
        return out if processed and out and all(m.delivery_status != "pending" for m in out) else None

    return wait_until(done, 120, "every message processed and every reply delivered")


# -- the stack -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of this module's own: the retry-timing tests here count provider calls, and the
    session's shared database holds other modules' pending replies, which a new server's outbox
    picks up and retries (as it should) while these tests watch the fake."""
    import os

    from bot.db import dispose
    from ops import migrate, seed

    url = f"sqlite:///{tmp_path_factory.mktemp('whatsapp-db') / 'whatsapp.db'}"
    migrate.upgrade(url)
    seed.seed(url)
    previous = os.environ["DATABASE_URL"]
    os.environ["DATABASE_URL"] = url
    try:
        yield url
    finally:
        os.environ["DATABASE_URL"] = previous
        dispose(url)


@pytest.fixture(scope="module")
def stack(make_stack, fake_twilio: FakeTwilio) -> Stack:
    """WhatsApp on, pointed at the fake Twilio; Telegram left unconfigured (off)."""
    return make_stack(
        {
            "PUBLIC_URL": PUBLIC_URL,
            "TWILIO_ACCOUNT_SID": TWILIO_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "TWILIO_WHATSAPP_NUMBER": BUSINESS_NUMBER,
            "TWILIO_API_BASE_URL": fake_twilio.url,
        },
        name="channels-whatsapp",
    )


@pytest.fixture(autouse=True)
def healthy(request: pytest.FixtureRequest) -> None:
    """Every test starts with a provider that works."""
    if "fake_twilio" in request.fixturenames:
        request.getfixturevalue("fake_twilio").heal()


# -- rendering -------------------------------------------------------------------------------------
def test_options_become_a_numbered_list_and_items_bullets() -> None:
    outbound = Outbound(
        "Parece que no logro ayudarte. ¿Quieres que te comunique con un asesor?",
        buttons=(Button("Sí, con un asesor", "/affirm"), Button("No, gracias", "/deny")),
        items=("Tóner HP 58A", "Monitor 24\""),
        image="https://example.test/p.png",
    )
    parts = whatsapp.render(outbound)
    assert len(parts) == 1
    assert parts[0]["body"].endswith("• Tóner HP 58A\n• Monitor 24\"\n\n" + OFFER)
    assert parts[0]["media_url"] == ["https://example.test/p.png"]


def test_long_text_is_split_under_1600_at_sentence_ends_never_mid_word() -> None:
    sentence = "El pedido PED-10234 salió de Guadalajara por Estafeta y llega el jueves. "
    text = sentence * 60  # about 4400 characters
    parts = whatsapp.render(Outbound(text))
    assert len(parts) == 3
    assert all(len(p["body"]) <= 1600 for p in parts)
    assert all(p["body"].endswith("jueves.") for p in parts)
    assert " ".join(p["body"] for p in parts) == text.strip()


# -- the sender against the fake Twilio (unit level) -------------------------------------------------
def customer_who_wrote(hours_ago: float) -> str:
    """A WhatsApp customer whose last message is `hours_ago` old; returns the address."""
    number = random_mobile()
    inbound = Inbound("whatsapp", number, "hola", provider_message_id="SM" + uuid.uuid4().hex,
                      verified_phone=number, verified_by="twilio_from")
    party = conversations.resolve(inbound)
    message_id = conversations.store_inbound(party, inbound, "hola")
    with session_scope() as session:
        session.execute(
            update(Message).where(Message.id == message_id).values(created_at=utcnow() - dt.timedelta(hours=hours_ago))
        )
    return number


async def test_sender_posts_the_reply_to_twilio_inside_the_window(database_url: str, fake_twilio: FakeTwilio) -> None:
    number = customer_who_wrote(hours_ago=1)
    sid = await WhatsAppSender(settings(fake_twilio)).send(number, Outbound("Hola 👋"), message_id=1)
    [call] = fake_twilio.sent_to(number)
    assert sid and sid.startswith("SM")
    assert call.params["From"] == f"whatsapp:{BUSINESS_NUMBER}"
    assert call.params["Body"] == "Hola 👋"
    assert call.params["StatusCallback"] == PUBLIC_URL + STATUS
    assert "ContentSid" not in call.params


def agent_message_to(number: str, text: str) -> int:
    """A proactive message (an agent's, a notification) stored for the contact behind `number`."""
    party = conversations.resolve(Inbound("whatsapp", number, "", verified_phone=number, verified_by="twilio_from"))
    return conversations.store_outbound(party.conversation_id, "whatsapp", Outbound(text), author="agent")


def stored(message_id: int) -> Message:
    with session_scope() as session:
        return session.get(Message, message_id)


async def test_outside_the_window_the_template_carries_the_text(database_url: str, fake_twilio: FakeTwilio) -> None:
    number = customer_who_wrote(hours_ago=25)
    text = "Tu pedido PED-10234 ya fue entregado. " * 5
    message_id = agent_message_to(number, text)
    sender = WhatsAppSender(settings(fake_twilio, template="HX0123456789abcdef0123456789abcdef"))
    assert await Outbox({"whatsapp": sender}).deliver(message_id) == "sent"
    [call] = fake_twilio.sent_to(number)
    assert call.params["ContentSid"] == "HX0123456789abcdef0123456789abcdef"
    assert call.params["ContentVariables"] == '{"1": "' + text.strip()[:100] + '"}'
    assert "Body" not in call.params
    assert stored(message_id).provider_message_id == call.result["sid"]


async def test_outside_the_window_without_template_the_reply_fails_with_the_reason(
    database_url: str, fake_twilio: FakeTwilio
) -> None:
    number = customer_who_wrote(hours_ago=30)
    sender = WhatsAppSender(settings(fake_twilio))
    with pytest.raises(SendError) as refused:
        await sender.send(number, Outbound("¿Sigues ahí?"), message_id=3)
    assert refused.value.retryable is False
    assert refused.value.status == "refused"
    message_id = agent_message_to(number, "¿Sigues ahí?")
    assert await Outbox({"whatsapp": sender}).deliver(message_id) == "refused"
    assert stored(message_id).delivery_status == "refused"  # marked so in the store, with the reason
    assert stored(message_id).error == "outside WhatsApp's 24-hour window and no template configured"
    assert fake_twilio.sent_to(number) == []


NOTICE = NoticeFields("PED-10235", "con retraso: mal clima en la ruta de la paquetería", "sábado 12 de diciembre")


async def test_a_notice_outside_the_window_is_the_notice_template_with_three_variables_never_a_body(
    database_url: str, fake_twilio: FakeTwilio
) -> None:
    number = customer_who_wrote(hours_ago=25)
    message_id = agent_message_to(number, "⚠️ Aviso sobre tu pedido PED-10235")
    outbound = Outbound("⚠️ Aviso sobre tu pedido PED-10235", buttons=(Button("Esperar", "/notice_choice"),),
                        notice=NOTICE)
    sender = WhatsAppSender(WhatsAppSettings(TWILIO_SID, TWILIO_TOKEN, BUSINESS_NUMBER, PUBLIC_URL, fake_twilio.url,
                                             "HX-generic", "HX-notice"))
    sid = await sender.send(number, outbound, message_id)
    [call] = fake_twilio.sent_to(number)
    assert sid == call.result["sid"] and "Body" not in call.params
    assert call.params["ContentSid"] == "HX-notice"  # not the generic template
    assert json.loads(call.params["ContentVariables"]) == {"1": "PED-10235", "2": NOTICE.change, "3": NOTICE.date}
    assert stored(message_id).payload["condensed"] is True  # shown in full once the customer answers
    inside = customer_who_wrote(hours_ago=1)
    await sender.send(inside, outbound, message_id=2)
    [free] = fake_twilio.sent_to(inside)
    assert "ContentSid" not in free.params and free.params["Body"].endswith("1. Esperar")


async def test_a_notice_outside_the_window_without_its_template_is_refused(
    database_url: str, fake_twilio: FakeTwilio
) -> None:
    number = customer_who_wrote(hours_ago=30)
    sender = WhatsAppSender(settings(fake_twilio, template="HX-generic"))  # the generic one is no notice template
    with pytest.raises(SendError) as refused:
        await sender.send(number, Outbound("⚠️ Aviso", notice=NOTICE), message_id=9)
    assert (refused.value.retryable, refused.value.status) == (False, "refused")  # type: ignore[attr-defined]
    assert refused.value.reason == "a notice outside WhatsApp's 24-hour window and no notice template configured"
    assert fake_twilio.sent_to(number) == []


async def test_twilio_errors_map_to_retryable_or_final(database_url: str, fake_twilio: FakeTwilio) -> None:
    number = customer_who_wrote(hours_ago=0)
    sender = WhatsAppSender(settings(fake_twilio), timeout=0.5)
    fake_twilio.fail_next(1, 429, retry_after=1)
    with pytest.raises(SendError) as limited:
        await sender.send(number, Outbound("a"), message_id=4)
    assert limited.value.retryable and limited.value.retry_after == 1.0
    fake_twilio.fail_next(1, 503)
    with pytest.raises(SendError) as unavailable:
        await sender.send(number, Outbound("b"), message_id=5)
    assert unavailable.value.retryable and unavailable.value.retry_after is None
    fake_twilio.fail_next(1, 400, description="The 'To' number whatsapp:+5215500000000 is not a valid phone number.")
    with pytest.raises(SendError) as invalid:
        await sender.send(number, Outbound("c"), message_id=6)
    assert not invalid.value.retryable
    assert "21211" in invalid.value.reason and "5500000000" not in invalid.value.reason  # no phone in logs
    fake_twilio.slow_next(1, 2.0)
    with pytest.raises(SendError) as slow:
        await sender.send(number, Outbound("d"), message_id=7)
    assert slow.value.retryable
    stopped = WhatsAppSender(WhatsAppSettings(TWILIO_SID, TWILIO_TOKEN, BUSINESS_NUMBER, PUBLIC_URL, "http://127.0.0.1:9"))
    with pytest.raises(SendError) as refused:
        await stopped.send(number, Outbound("e"), message_id=8)
    assert refused.value.retryable


async def test_a_retry_of_a_split_reply_does_not_repeat_the_parts_already_sent(
    database_url: str, fake_twilio: FakeTwilio
) -> None:
    number = customer_who_wrote(hours_ago=0)
    sender = WhatsAppSender(settings(fake_twilio))
    text = "Primera parte de una respuesta larga. " * 30 + "\n\n" + "Segunda parte, también larga. " * 30
    sent_parts = len(whatsapp.render(Outbound(text)))
    assert sent_parts == 2
    original = fake_twilio.handle

    def first_ok_then_fail(path: str, headers: dict, body: bytes):
        if len(fake_twilio.sent_to(number)) == 1:
            fake_twilio.fail_next(1, 500)
        return original(path, headers, body)

    message_id = agent_message_to(number, text)
    fake_twilio.handle = first_ok_then_fail  # type: ignore[method-assign]
    try:
        with pytest.raises(SendError):
            await sender.send(number, Outbound(text), message_id=message_id)
    finally:
        fake_twilio.handle = original  # type: ignore[method-assign]
    # The part already sent is in the store: a new sender (a restart, another replica) skips it.
    sid = await WhatsAppSender(settings(fake_twilio)).send(number, Outbound(text), message_id=message_id)
    sent = fake_twilio.sent_to(number)
    assert [c.params["Body"][:16] for c in sent] == ["Primera parte de", "Segunda parte, t"]
    assert sid == sent[-1].result["sid"]  # the last part's sid is what the outbox stores
    assert stored(message_id).sent_parts == [c.result["sid"] for c in sent]


# -- the webhook handler without a server (unit level) ----------------------------------------------
def fake_request(body: bytes, headers: Optional[dict[str, str]] = None, path: str = WEBHOOK) -> Any:
    return SimpleNamespace(body=body, headers=headers or {}, path=path, query_string="")


async def test_an_unconfigured_channel_is_off_with_one_log_line(monkeypatch, caplog) -> None:
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_NUMBER", "PUBLIC_URL"):
        monkeypatch.setenv(name, "")
    channel = WhatsAppInput(hub=Hub())
    with caplog.at_level(logging.INFO, logger="connectors.whatsapp"):
        channel.blueprint(lambda message: None)  # type: ignore[arg-type,return-value]
    lines = [r.getMessage() for r in caplog.records if r.name == "connectors.whatsapp"]
    assert lines == ["whatsapp channel off: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_WHATSAPP_NUMBER, PUBLIC_URL not set"]
    assert "whatsapp" not in channel.hub.senders
    answer = await channel.receive(fake_request(b"From=whatsapp%3A%2B5215512345678&Body=hola"))
    assert answer.status == 503 and b"whatsapp channel off" in answer.body


async def test_oversized_bodies_are_refused_with_413(fake_twilio: FakeTwilio) -> None:
    channel = WhatsAppInput(hub=Hub(), settings=settings(fake_twilio))
    answer = await channel.receive(fake_request(b"Body=" + b"a" * (64 * 1024)))
    assert answer.status == 413


async def test_when_the_store_is_down_twilio_gets_503_to_retry(fake_twilio: FakeTwilio) -> None:
    class DownHub(Hub):
        async def accept(self, inbound: Inbound):
            raise ConnectionError("database is down")

    channel = WhatsAppInput(hub=DownHub(), settings=settings(fake_twilio))
    params = twilio_params(random_mobile(), "hola")
    body = urlencode(params).encode()
    answer = await channel.receive(fake_request(body, {"x-twilio-signature": signature(WEBHOOK, params)}))
    assert answer.status == 503


# -- through the real stack ---------------------------------------------------------------------------
def test_signed_webhook_is_acknowledged_with_empty_twiml_and_stored(stack: Stack) -> None:
    number = random_mobile()
    params = twilio_params(number, "hola")
    answer = post(stack, params)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/xml")
    assert answer.text.endswith("<Response/>")
    [stored] = inbound_with("whatsapp", params["MessageSid"])
    assert stored.direction == "in" and stored.text == "hola"


def test_signature_covers_the_query_string(stack: Stack) -> None:
    number = random_mobile()
    params = twilio_params(number, "hola")
    assert post(stack, params, query="tenant=mayoreo").status_code == 200
    assert len(inbound_with("whatsapp", params["MessageSid"])) == 1


@pytest.mark.parametrize("forgery", ["missing", "wrong", "tampered body", "other url"])
def test_unsigned_or_forged_webhooks_are_refused_and_nothing_is_stored(stack: Stack, forgery: str) -> None:
    number = random_mobile()
    params = twilio_params(number, "quiero hablar con una persona")
    headers = {}
    if forgery == "wrong":
        headers["X-Twilio-Signature"] = RequestValidator("not-the-token").compute_signature(PUBLIC_URL + WEBHOOK, params)
    elif forgery == "tampered body":
        headers["X-Twilio-Signature"] = signature(WEBHOOK, params)
        params = {**params, "Body": "dame el pedido PED-10240"}
    elif forgery == "other url":
        headers["X-Twilio-Signature"] = signature(STATUS, params)
    answer = stack.post(WEBHOOK, data=params, headers=headers)
    assert answer.status_code == 403
    assert answer.json() == {"error": "invalid Twilio signature"}
    time.sleep(0.3)
    assert inbound_with("whatsapp", params["MessageSid"]) == []
    assert messages_of("whatsapp", number) == []


def test_ana_gets_her_order_status_without_being_asked_for_an_email(stack: Stack, fake_twilio: FakeTwilio) -> None:
    fresh_start(ANA)
    before = len(fake_twilio.sent_to(ANA))
    assert post(stack, twilio_params(ANA, "¿dónde está mi pedido PED-10234?")).status_code == 200
    reply = reply_containing(fake_twilio, ANA, "Estafeta")
    assert "PED-10234" in reply
    replies = settled(ANA)
    new = bodies(fake_twilio, ANA)[before:]
    assert not any("correo" in body for body in new)
    assert replies[-1].channel == "whatsapp" and replies[-1].delivery_status == "sent"
    assert replies[-1].provider_message_id == fake_twilio.sent_to(ANA)[-1].result["sid"]


def test_options_arrive_as_a_numbered_list_and_a_digit_picks_one(stack: Stack, fake_twilio: FakeTwilio) -> None:
    number = random_mobile()
    post(stack, twilio_params(number, "hola"))
    reply_containing(fake_twilio, number, "asistente virtual")
    before = len(fake_twilio.sent_to(number))
    post(stack, twilio_params(number, "cuál es la capital de mongolia"))
    fake_twilio.wait_for(lambda: len(fake_twilio.sent_to(number)) > before, 90, "an answer to the first miss")
    settled(number)
    post(stack, twilio_params(number, "quién ganó el mundial de 1986"))
    offer = reply_containing(fake_twilio, number, OFFER)
    assert offer.endswith(OFFER)
    settled(number)
    post(stack, twilio_params(number, "1"))
    reply_containing(fake_twilio, number, "Te comunico con un asesor")


def test_a_retried_webhook_is_stored_once_and_answered_once(stack: Stack, fake_twilio: FakeTwilio) -> None:
    number = random_mobile()
    params = twilio_params(number, "hola")
    assert post(stack, params).status_code == 200
    assert post(stack, params).status_code == 200
    reply_containing(fake_twilio, number, "asistente virtual")
    replies = settled(number)
    assert len(inbound_with("whatsapp", params["MessageSid"])) == 1
    assert len([m for m in messages_of("whatsapp", number) if m.direction == "in"]) == 1
    greetings = [b for b in bodies(fake_twilio, number) if "asistente virtual" in b]
    assert len(greetings) == 1
    assert len(fake_twilio.sent_to(number)) == len(replies)


def test_media_is_stored_on_the_message_and_acknowledged(stack: Stack, fake_twilio: FakeTwilio) -> None:
    number = random_mobile()
    url = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages/MM1/Media/ME1"
    params = twilio_params(number, "", NumMedia="1", MediaUrl0=url, MediaContentType0="image/jpeg")
    assert post(stack, params).status_code == 200
    [stored] = inbound_with("whatsapp", params["MessageSid"])
    assert stored.payload["media"] == [url]
    reply_containing(fake_twilio, number, "Recibí tu archivo")


def test_provider_failing_twice_then_recovering_delivers_each_reply_once(stack: Stack, fake_twilio: FakeTwilio) -> None:
    number = random_mobile()
    fake_twilio.fail_next(2, 500, when={"To": f"whatsapp:{number}"})
    post(stack, twilio_params(number, "hola"))
    replies = settled(number)
    calls = [c for c in fake_twilio.calls if c.params.get("To") == f"whatsapp:{number}"]
    assert [c.status for c in calls].count(500) == 2
    assert len(fake_twilio.sent_to(number)) == len(replies)
    assert all(m.delivery_status == "sent" for m in replies)
    assert sorted(c.params["Body"] for c in fake_twilio.sent_to(number)) == sorted(m.text for m in replies)
    assert max(m.attempts for m in replies) == 3


def test_429_retry_after_is_honoured(stack: Stack, fake_twilio: FakeTwilio) -> None:
    # 2 s, not 1: the outbox's own first backoff is 1 s, so only a longer wait proves the header counts.
    number = random_mobile()
    fake_twilio.fail_next(1, 429, retry_after=2, when={"To": f"whatsapp:{number}"})
    post(stack, twilio_params(number, "hola"))
    settled(number)
    calls = [c for c in fake_twilio.calls if c.params.get("To") == f"whatsapp:{number}"]
    assert calls[0].status == 429 and calls[1].ok
    assert calls[1].at - calls[0].at >= 1.9


def test_status_callbacks_update_the_delivery_status_and_never_go_back(stack: Stack, fake_twilio: FakeTwilio) -> None:
    number = random_mobile()
    post(stack, twilio_params(number, "hola"))
    reply = settled(number)[-1]
    sid = reply.provider_message_id
    assert sid and sid.startswith("SM")

    def status_of() -> str:
        with session_scope() as session:
            return session.get(Message, reply.id).delivery_status

    for status, expected in [("sent", "sent"), ("delivered", "delivered"), ("read", "read"), ("sent", "read")]:
        params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": TWILIO_SID, "To": f"whatsapp:{number}"}
        assert post(stack, params, path=STATUS).status_code == 200
        assert status_of() == expected
    unknown = {"MessageSid": "SM" + uuid.uuid4().hex, "MessageStatus": "delivered"}
    assert post(stack, unknown, path=STATUS).status_code == 200
    forged = {"MessageSid": sid, "MessageStatus": "failed"}
    assert post(stack, forged, path=STATUS, sign=False).status_code == 403
    assert status_of() == "read"


def test_telegram_without_credentials_is_off_and_says_so_once(stack: Stack) -> None:
    answer = stack.post("/webhooks/telegram/webhook", json={"update_id": 1})
    assert answer.status_code == 503
    assert "telegram channel off" in answer.json()["error"]
    lines = [line for line in stack.log().splitlines() if "telegram channel off" in line]
    assert len(lines) == 1
    assert lines[0].endswith("telegram channel off: TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET not set")
    assert "5512345678" not in stack.log() and "dónde está mi pedido" not in stack.log()  # no numbers or texts logged


def test_pending_replies_are_delivered_once_after_a_restart(stack: Stack, fake_twilio: FakeTwilio) -> None:
    """Runs last: it restarts the module's stack."""
    number = random_mobile()
    fake_twilio.fail_always(500)
    post(stack, twilio_params(number, "hola"))
    wait_until(
        lambda: any(m.attempts >= 1 and m.delivery_status == "pending" for m in outbound_of(number)),
        90,
        "a failed first attempt",
    )
    stack.stop()
    pending = [m for m in outbound_of(number) if m.delivery_status == "pending"]
    assert pending
    fake_twilio.heal()
    stack.start()
    replies = settled(number)
    assert all(m.delivery_status == "sent" for m in replies)
    sent = fake_twilio.sent_to(number)
    assert len(sent) == len(replies)
    assert sorted(c.params["Body"] for c in sent) == sorted(m.text for m in replies)
