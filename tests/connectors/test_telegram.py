"""Telegram: secret-checked webhook in, Bot API out (a fake Bot API on loopback), contacts as
verification, inline buttons, and the `set-webhook` command."""
from __future__ import annotations

import itertools
import json
import logging
import os
import random
import subprocess
import sys
import time
from types import SimpleNamespace
from typing import Any, Optional

import pytest
from sqlalchemy import select
from telegram import Update

from bot import conversations
from bot.config import ROOT
from bot.db import session_scope
from bot.hub import Hub
from bot.messages import Button, Inbound, Outbound
from bot.outbox import sent_parts
from bot.outbox import SendError
from bot.store.models import ChannelIdentity, Contact
from connectors import telegram
from connectors.telegram import TelegramInput, TelegramSender, TelegramSettings
from tests.connectors.fake_providers import FakeTelegram
from tests.connectors.support import (
    PUBLIC_URL,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    Stack,
    fresh_start,
    inbound_with,
    messages_of,
    wait_until,
)

COMPUNET_PHONE = "+528155550101"
WEBHOOK = "/webhooks/telegram/webhook"
_update_ids = itertools.count(random.randint(10_000_000, 90_000_000))


def settings(fake: FakeTelegram) -> TelegramSettings:
    return TelegramSettings(TELEGRAM_TOKEN, TELEGRAM_SECRET, fake.url + "/bot", PUBLIC_URL)


def new_chat() -> int:
    return random.randint(100_000_000, 999_999_999)


def user(chat_id: int, first: str = "Compunet", last: Optional[str] = "del Norte") -> dict[str, Any]:
    data: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": first, "language_code": "es"}
    if last:
        data["last_name"] = last
    return data


def message_update(chat_id: int, text: Optional[str] = None, kind: str = "message", chat_type: str = "private",
                   sender: Optional[int] = None, **fields: Any) -> dict[str, Any]:
    """An update as Telegram posts it: `message` (or `edited_message`) from a private chat."""
    message: dict[str, Any] = {
        "message_id": random.randint(1, 10_000),
        "date": int(time.time()),
        "chat": {"id": chat_id, "type": chat_type, "first_name": "Compunet"},
        "from": user(sender or chat_id),
        **fields,
    }
    if text is not None:
        message["text"] = text
    if kind == "edited_message":
        message["edit_date"] = int(time.time())
    return {"update_id": next(_update_ids), kind: message}


def callback_update(chat_id: int, data: str, buttons: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": f"cbq-{random.randint(1, 10**9)}",
            "from": user(chat_id),
            "chat_instance": "-5500000000001",
            "data": data,
            "message": {
                "message_id": random.randint(1, 10_000),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "Compunet"},
                "from": {"id": 999000, "is_bot": True, "first_name": "Mayoreo TI"},
                "text": "¿Quieres que te comunique con un asesor?",
                "reply_markup": {"inline_keyboard": [[{"text": t, "callback_data": d}] for t, d in buttons]},
            },
        },
    }


def post(stack: Stack, update: Any, secret: Optional[str] = TELEGRAM_SECRET, raw: Optional[bytes] = None):
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    if raw is not None:
        return stack.post(WEBHOOK, content=raw, headers={**headers, "Content-Type": "application/json"})
    return stack.post(WEBHOOK, json=update, headers=headers)


def texts(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [c.params.get("text") or c.params.get("caption") or "" for c in fake.sent_to(chat_id)]


def reply_containing(fake: FakeTelegram, chat_id: int, *needles: str, timeout: float = 90.0) -> str:
    return fake.wait_for(
        lambda: next((t for t in texts(fake, chat_id) if all(n in t for n in needles)), None),
        timeout,
        f"a reply containing {needles!r}",
    )


def settled(chat_id: int) -> list:
    """The replies to `chat_id` once every message from it is processed and none is pending: from
    then on nothing more is sent, so counts taken afterwards are final."""

    def done() -> Optional[list]:
        messages = messages_of("telegram", str(chat_id))
        out = [m for m in messages if m.direction == "out"]
        processed = all(m.delivery_status != "received" for m in messages if m.direction == "in")
        return out if processed and out and all(m.delivery_status != "pending" for m in out) else None

    return wait_until(done, 120, "every message processed and every reply delivered")


def parsed(data: dict[str, Any]) -> telegram.Parsed:
    return telegram.parse(Update.de_json(data, None))


# -- the stack -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stack(make_stack, fake_telegram: FakeTelegram) -> Stack:
    """Telegram on, pointed at the fake Bot API; WhatsApp left unconfigured (off)."""
    return make_stack(
        {
            "PUBLIC_URL": PUBLIC_URL,
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
            "TELEGRAM_API_BASE_URL": fake_telegram.url + "/bot",
        },
        name="channels-telegram",
    )


@pytest.fixture(autouse=True)
def healthy(request: pytest.FixtureRequest) -> None:
    if "fake_telegram" in request.fixturenames:
        request.getfixturevalue("fake_telegram").heal()


# -- parsing updates (unit level) --------------------------------------------------------------------
def test_a_text_message_becomes_an_inbound_from_the_chat() -> None:
    data = message_update(4242, "hola")
    inbound = parsed(data).inbound
    assert inbound == Inbound(
        channel="telegram", address="4242", text="hola", provider_message_id=str(data["update_id"]),
        display_name="Compunet del Norte",
    )


def test_only_the_senders_own_contact_verifies_a_phone() -> None:
    own = parsed(message_update(4242, contact={"phone_number": "528155550101", "first_name": "C", "user_id": 4242}))
    assert own.inbound.verified_phone == COMPUNET_PHONE and own.inbound.verified_by == "telegram_contact"
    someone_else = parsed(message_update(4242, contact={"phone_number": "528155550101", "first_name": "C", "user_id": 77}))
    assert someone_else.inbound.verified_phone is None and someone_else.inbound.verified_by is None
    no_user = parsed(message_update(4242, contact={"phone_number": "528155550101", "first_name": "C"}))
    assert no_user.inbound.verified_phone is None


def test_location_edits_and_start_are_understood() -> None:
    location = parsed(message_update(4242, location={"latitude": 25.6866, "longitude": -100.3161})).inbound
    assert location.text == "📍 25.6866,-100.3161"
    assert location.extra["location"] == {"latitude": 25.6866, "longitude": -100.3161}
    edited = message_update(4242, "PED-10234", kind="edited_message")
    assert parsed(edited).inbound.provider_message_id == str(edited["update_id"])
    assert parsed(edited).inbound.text == "PED-10234"
    assert parsed(message_update(4242, "/start")).inbound.payload == "/greet"


def test_updates_without_a_usable_message_are_ignored() -> None:
    member = {
        "update_id": 5,
        "my_chat_member": {
            "chat": {"id": 4242, "type": "private", "first_name": "C"},
            "from": user(4242),
            "date": int(time.time()),
            "old_chat_member": {"status": "member", "user": {"id": 999000, "is_bot": True, "first_name": "B"}},
            "new_chat_member": {"status": "kicked", "until_date": 0, "user": {"id": 999000, "is_bot": True, "first_name": "B"}},
        },
    }
    assert parsed(member).inbound is None
    assert parsed(message_update(-100123, "hola a todos", chat_type="supergroup", sender=4242)).inbound is None
    assert parsed(message_update(4242, pinned_message={"message_id": 1, "date": 0, "chat": {"id": 4242, "type": "private"}})).inbound is None


# -- rendering and sending against the fake Bot API ---------------------------------------------------
def test_long_payloads_travel_as_a_hash_and_are_found_again_in_the_store(database_url: str) -> None:
    assert telegram.callback_data("/affirm") == "/affirm"
    long = '/inform{"product": "Tóner HP 58A negro, caja con 2 piezas", "branch": "mty"}'
    data = telegram.callback_data(long)
    assert len(data.encode()) <= 64 and data.startswith("h:")
    chat = new_chat()
    party = conversations.resolve(Inbound("telegram", str(chat), "hola"))
    conversations.store_outbound(party.conversation_id, "telegram", Outbound("¿Cuál?", buttons=(Button("Ese", long),)))
    assert telegram.resolve_payload(str(chat), data) == long
    assert telegram.resolve_payload(str(new_chat()), data) is None  # another chat's buttons are not yours


async def test_sender_sends_text_with_an_inline_keyboard(fake_telegram: FakeTelegram) -> None:
    chat = new_chat()
    outbound = Outbound("¿Quieres un asesor?", buttons=(Button("Sí, con un asesor", "/affirm"), Button("No, gracias", "/deny")))
    provider_id = await TelegramSender(settings(fake_telegram)).send(str(chat), outbound, message_id=1)
    [call] = fake_telegram.sent_to(chat)
    assert call.method == "sendMessage" and call.params["text"] == "¿Quieres un asesor?"
    assert call.params["reply_markup"] == {"inline_keyboard": [
        [{"text": "Sí, con un asesor", "callback_data": "/affirm"}], [{"text": "No, gracias", "callback_data": "/deny"}],
    ]}
    assert provider_id == f"{chat}:{call.result['message_id']}"


async def test_sender_splits_at_4096_and_sends_images_as_photos(fake_telegram: FakeTelegram) -> None:
    chat = new_chat()
    sender = TelegramSender(settings(fake_telegram))
    long = Outbound("Línea de producto disponible. " * 300, buttons=(Button("OK", "/affirm"),))
    party = conversations.resolve(Inbound("telegram", str(chat), "hola"))
    message_id = conversations.store_outbound(party.conversation_id, "telegram", long)
    await sender.send(str(chat), long, message_id)
    calls = fake_telegram.sent_to(chat)
    assert len(calls) == 3 and all(len(c.params["text"]) <= 4096 for c in calls)
    assert [("reply_markup" in c.params) for c in calls] == [False, False, True]
    # Each part is stored as it goes: a retry after a restart would send none of them again.
    assert sent_parts(message_id) == [f"{chat}:{c.result['message_id']}" for c in calls]
    await sender.send(str(chat), Outbound("Tóner HP 58A", image="https://example.test/cf258a.png"), 3)
    photo = fake_telegram.sent_to(chat)[-1]
    assert photo.method == "sendPhoto"
    assert photo.params["photo"] == "https://example.test/cf258a.png" and photo.params["caption"] == "Tóner HP 58A"


async def test_bot_api_errors_map_to_retryable_or_final(fake_telegram: FakeTelegram) -> None:
    chat = str(new_chat())
    sender = TelegramSender(settings(fake_telegram), timeout=0.5)
    fake_telegram.fail_next(1, 429, retry_after=1)
    with pytest.raises(SendError) as flood:
        await sender.send(chat, Outbound("a"), 4)
    assert flood.value.retryable and flood.value.retry_after == 1.0
    fake_telegram.fail_next(1, 500)
    with pytest.raises(SendError) as broken:
        await sender.send(chat, Outbound("b"), 5)
    assert broken.value.retryable
    for status in (400, 403):
        fake_telegram.fail_next(1, status)
        with pytest.raises(SendError) as final:
            await sender.send(chat, Outbound("c"), 6)
        assert not final.value.retryable, status
    fake_telegram.slow_next(1, 2.0)
    with pytest.raises(SendError) as slow:
        await sender.send(chat, Outbound("d"), 7)
    assert slow.value.retryable
    down = TelegramSender(TelegramSettings(TELEGRAM_TOKEN, TELEGRAM_SECRET, "http://127.0.0.1:9/bot"))
    with pytest.raises(SendError) as refused:
        await down.send(chat, Outbound("e"), 8)
    assert refused.value.retryable


# -- the webhook handler without a server -------------------------------------------------------------
def fake_request(body: bytes, headers: Optional[dict[str, str]] = None) -> Any:
    return SimpleNamespace(body=body, headers=headers or {}, path=WEBHOOK, query_string="")


async def test_an_unconfigured_channel_is_off_with_one_log_line(monkeypatch, caplog) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "")
    channel = TelegramInput(hub=Hub())
    with caplog.at_level(logging.INFO, logger="connectors.telegram"):
        channel.blueprint(lambda message: None)  # type: ignore[arg-type,return-value]
    lines = [r.getMessage() for r in caplog.records if r.name == "connectors.telegram"]
    assert lines == ["telegram channel off: TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET not set"]
    answer = await channel.receive(fake_request(b'{"update_id": 1}'))
    assert answer.status == 503 and b"telegram channel off" in answer.body


async def test_oversized_bodies_and_a_down_store(fake_telegram: FakeTelegram) -> None:
    class DownHub(Hub):
        async def accept(self, inbound: Inbound):
            raise ConnectionError("database is down")

    channel = TelegramInput(hub=DownHub(), settings=settings(fake_telegram))
    secret = {"x-telegram-bot-api-secret-token": TELEGRAM_SECRET}
    assert (await channel.receive(fake_request(b" " * (64 * 1024 + 1), secret))).status == 413
    answer = await channel.receive(fake_request(json.dumps(message_update(4242, "hola")).encode(), secret))
    assert answer.status == 503


def run_cli(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "connectors.telegram", "set-webhook"],
        cwd=ROOT, env={**os.environ, "RASA_TELEMETRY_ENABLED": "false", **env},
        capture_output=True, text=True, timeout=180,
    )


def test_set_webhook_registers_the_public_url_with_the_secret(fake_telegram: FakeTelegram) -> None:
    done = run_cli({
        "PUBLIC_URL": PUBLIC_URL, "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN, "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_BASE_URL": fake_telegram.url + "/bot",
    })
    assert done.returncode == 0, done.stderr
    [call] = fake_telegram.calls_of("setWebhook")
    assert call.params["url"] == PUBLIC_URL + WEBHOOK
    assert call.params["secret_token"] == TELEGRAM_SECRET
    missing = run_cli({"PUBLIC_URL": "", "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN, "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET})
    assert missing.returncode == 2 and "PUBLIC_URL not set" in missing.stderr
    assert len(fake_telegram.calls_of("setWebhook")) == 1


# -- through the real stack ---------------------------------------------------------------------------
@pytest.mark.parametrize("secret", [None, "", "wrong-secret", TELEGRAM_SECRET + "x"])
def test_a_missing_or_wrong_secret_is_refused_and_nothing_is_stored(stack: Stack, secret: Optional[str]) -> None:
    chat = new_chat()
    update = message_update(chat, "hola")
    answer = post(stack, update, secret=secret)
    assert answer.status_code == 403
    time.sleep(0.3)
    assert inbound_with("telegram", str(update["update_id"])) == []
    assert messages_of("telegram", str(chat)) == []


def test_compunet_shares_his_contact_and_gets_stock_per_branch(stack: Stack, fake_telegram: FakeTelegram) -> None:
    fresh_start(COMPUNET_PHONE)
    chat = new_chat()
    share = message_update(chat, contact={"phone_number": "528155550101", "first_name": "Compunet",
                                          "last_name": "del Norte", "user_id": chat})
    assert post(stack, share).status_code == 200
    with session_scope() as session:
        identity = session.execute(
            select(ChannelIdentity).where(ChannelIdentity.channel == "telegram", ChannelIdentity.address == str(chat))
        ).scalar_one()
        assert identity.verified_by == "telegram_contact"
        assert session.get(Contact, identity.contact_id).phone == COMPUNET_PHONE
    settled(chat)
    assert post(stack, message_update(chat, "tienen CF258A en Puebla?")).status_code == 200
    reply = reply_containing(fake_telegram, chat, "Monterrey")
    assert "Puebla" in reply and "CF258A" in reply


def test_someone_elses_contact_verifies_nothing(stack: Stack) -> None:
    chat = new_chat()
    share = message_update(chat, contact={"phone_number": "528155550101", "first_name": "Compunet", "user_id": chat + 1})
    assert post(stack, share).status_code == 200
    with session_scope() as session:
        identity = session.execute(
            select(ChannelIdentity).where(ChannelIdentity.channel == "telegram", ChannelIdentity.address == str(chat))
        ).scalar_one()
        assert identity.verified_by is None
        assert session.get(Contact, identity.contact_id).phone is None


def test_inline_buttons_come_back_as_their_payload(stack: Stack, fake_telegram: FakeTelegram) -> None:
    chat = new_chat()
    for text in ("hola", "cuál es la capital de mongolia"):
        before = len(fake_telegram.sent_to(chat))
        post(stack, message_update(chat, text))
        fake_telegram.wait_for(lambda: len(fake_telegram.sent_to(chat)) > before, 90, "a reply")
        settled(chat)
    post(stack, message_update(chat, "quién ganó el mundial de 1986"))
    fake_telegram.wait_for(
        lambda: any("reply_markup" in c.params for c in fake_telegram.sent_to(chat)), 90, "the offer of a person"
    )
    offer = next(c for c in fake_telegram.sent_to(chat) if "reply_markup" in c.params)
    keyboard = offer.params["reply_markup"]["inline_keyboard"]
    assert [row[0]["callback_data"] for row in keyboard] == ["/affirm", "/deny"]
    settled(chat)
    press = callback_update(chat, "/affirm", [(row[0]["text"], row[0]["callback_data"]) for row in keyboard])
    assert post(stack, press).status_code == 200
    reply_containing(fake_telegram, chat, "Te comunico con un asesor")
    answered = fake_telegram.wait_for(lambda: fake_telegram.calls_of("answerCallbackQuery"), 30, "answerCallbackQuery")
    assert any(c.params["callback_query_id"] == press["callback_query"]["id"] for c in answered)
    [stored] = inbound_with("telegram", str(press["update_id"]))
    assert stored.payload["button_payload"] == "/affirm" and stored.text == "Sí, con un asesor"


def test_a_repeated_update_is_stored_once_and_answered_once(stack: Stack, fake_telegram: FakeTelegram) -> None:
    chat = new_chat()
    update = message_update(chat, "hola")
    assert post(stack, update).status_code == 200
    assert post(stack, update).status_code == 200
    reply_containing(fake_telegram, chat, "asistente virtual")
    replies = settled(chat)
    assert len(inbound_with("telegram", str(update["update_id"]))) == 1
    assert len([t for t in texts(fake_telegram, chat) if "asistente virtual" in t]) == 1
    assert len(fake_telegram.sent_to(chat)) == len(replies)


def test_an_edit_is_a_new_message(stack: Stack, fake_telegram: FakeTelegram) -> None:
    chat = new_chat()
    first = message_update(chat, "hola")
    post(stack, first)
    edit = message_update(chat, "hola, buenas tardes", kind="edited_message")
    edit["edited_message"]["message_id"] = first["message"]["message_id"]
    assert post(stack, edit).status_code == 200
    [stored] = inbound_with("telegram", str(edit["update_id"]))
    assert stored.text == "hola, buenas tardes" and stored.payload == {"extra": {"edited": True}}


def test_updates_without_message_and_malformed_json(stack: Stack) -> None:
    chat = new_chat()
    member = {
        "update_id": next(_update_ids),
        "my_chat_member": {
            "chat": {"id": chat, "type": "private", "first_name": "C"},
            "from": user(chat),
            "date": int(time.time()),
            "old_chat_member": {"status": "member", "user": {"id": 999000, "is_bot": True, "first_name": "B"}},
            "new_chat_member": {"status": "kicked", "until_date": 0, "user": {"id": 999000, "is_bot": True, "first_name": "B"}},
        },
    }
    answer = post(stack, member)
    assert answer.status_code == 200 and answer.json() == {"status": "ignored"}
    assert inbound_with("telegram", str(member["update_id"])) == []
    assert messages_of("telegram", str(chat)) == []
    assert post(stack, None, raw=b'{"update_id": 1, "message": ').status_code == 400
    assert post(stack, None, raw=b'["not", "an", "update"]').status_code == 400


def test_a_location_is_stored_with_its_coordinates(stack: Stack) -> None:
    chat = new_chat()
    update = message_update(chat, location={"latitude": 19.4326, "longitude": -99.1332})
    assert post(stack, update).status_code == 200
    [stored] = inbound_with("telegram", str(update["update_id"]))
    assert stored.text == "📍 19.4326,-99.1332"
    assert stored.payload["extra"]["location"] == {"latitude": 19.4326, "longitude": -99.1332}


def test_bot_api_failing_twice_then_recovering_delivers_once(stack: Stack, fake_telegram: FakeTelegram) -> None:
    chat = new_chat()
    fake_telegram.fail_next(2, 500, when={"chat_id": chat})
    post(stack, message_update(chat, "hola"))
    replies = settled(chat)
    attempts = [c for c in fake_telegram.calls if c.method == "sendMessage" and str(c.params.get("chat_id")) == str(chat)]
    assert [c.status for c in attempts].count(500) == 2
    assert len(fake_telegram.sent_to(chat)) == len(replies)
    assert all(m.delivery_status == "sent" and m.provider_message_id.startswith(f"{chat}:") for m in replies)


def test_whatsapp_without_credentials_is_off_and_says_so_once(stack: Stack) -> None:
    answer = stack.post("/webhooks/whatsapp/webhook", data={"From": "whatsapp:+5215512345678", "Body": "hola"})
    assert answer.status_code == 503
    assert "whatsapp channel off" in answer.json()["error"]
    lines = [line for line in stack.log().splitlines() if "whatsapp channel off" in line]
    assert len(lines) == 1
    assert lines[0].endswith(
        "whatsapp channel off: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_WHATSAPP_NUMBER not set"
    )
    assert TELEGRAM_TOKEN not in stack.log()  # httpx would log Bot API URLs, token included
