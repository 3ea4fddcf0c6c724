"""Proactive order notices end to end: an order event in, the notice said by the trained dialogue
(the session's model and action server), sent by the real WhatsApp and Telegram senders to the
fake Twilio and Telegram, the customer's answer understood in context.

The hub runs in this process (no new server); notice jobs are run the way a replica's scheduler
runs them, at a controlled time: events are dated in the future, so no other server sharing the
session's database takes their jobs.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import uuid
from typing import Optional
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from actions import labels
from actions.backend import tables as t
from actions.backend.sql import SqlBackend
from bot import conversations, jobs, notices
from bot.db import session_scope, utcnow
from bot.hub import Hub
from bot.messages import Inbound
from bot.store.models import Contact, Conversation, Job, Message
from bot.store.normalize import canonical_phone
from bot.store.notices import NOTICE_JOB, Notice, OrderEvent
from connectors.telegram import TelegramSender, TelegramSettings, callback_data
from connectors.whatsapp import WhatsAppSender, WhatsAppSettings
from ops import notices as operator_notices
from tests.connectors.fake_providers import FakeTelegram, FakeTwilio
from tests.connectors.support import (
    BUSINESS_NUMBER,
    PUBLIC_URL,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    TWILIO_SID,
    TWILIO_TOKEN,
    random_mobile,
    wait_until,
)

pytestmark = pytest.mark.model

MX = ZoneInfo("America/Mexico_City")
NOON = dt.datetime(2027, 3, 10, 12, 0, tzinfo=MX)  # not quiet: notices go at once
ANA = "+5215512345678"
NOTICE_SID = "HX" + "0f" * 16
NEW_DATE = dt.date(2026, 12, 12)


# -- the hub, its senders, the business's records -----------------------------------------------------
def make_hub(chat, fake_twilio: FakeTwilio, fake_telegram: FakeTelegram, owner: str = "notices-test",
             notice_sid: Optional[str] = NOTICE_SID) -> Hub:
    hub = Hub()
    hub.jobs.owner = owner
    hub.attach_rasa(chat.agent.handle_message)
    hub.register_sender(WhatsAppSender(WhatsAppSettings(TWILIO_SID, TWILIO_TOKEN, BUSINESS_NUMBER, PUBLIC_URL,
                                                        fake_twilio.url, None, notice_sid)))
    hub.register_sender(TelegramSender(TelegramSettings(TELEGRAM_TOKEN, TELEGRAM_SECRET, fake_telegram.url + "/bot")))
    hub.notifier.clock = lambda: NOON
    hub.run = chat.loop.run_until_complete  # type: ignore[attr-defined]
    return hub


@pytest.fixture
def hub(chat, fake_twilio: FakeTwilio, fake_telegram: FakeTelegram) -> Hub:
    fake_twilio.heal()
    return make_hub(chat, fake_twilio, fake_telegram)


def customer_with_order(phone: str, status: str = "shipped") -> str:
    """A customer of the ERP who never wrote to us, with one order (the demo's PED-10235 items)."""
    order_id = f"PED-{random.randint(10**6, 10**7 - 1)}"
    with session_scope() as session:
        customer = t.Customer(name="Cliente de prueba", email=f"c{uuid.uuid4().hex[:10]}@example.com", phone=phone)
        session.add(customer)
        session.flush()
        session.add(t.Order(id=order_id, customer_id=customer.id, status=status, carrier="DHL",
                            tracking_number="4829100042", expected_date=dt.date.today() + dt.timedelta(days=5),
                            branch_id="cdmx", created_at=utcnow(),
                            items=[t.OrderItem(sku="HP-250G9", quantity=1, unit_price=11499.0),
                                   t.OrderItem(sku="KIN-SSD480", quantity=2, unit_price=599.0)]))
    return order_id


def wrote(channel: str, address: str, text: str, phone: Optional[str] = None, hours_ago: float = 0.0,
          language: Optional[str] = None, fresh: bool = False) -> str:
    """The person behind (channel, address) wrote `text`, answered already; their conversation id.
    `fresh`: in a conversation of its own (the session's other tests may have left theirs mid-way)."""
    if fresh and phone:
        with session_scope() as session:
            contact = session.execute(select(Contact).where(Contact.phone == canonical_phone(phone))).scalar_one_or_none()
            if contact is not None:
                session.add(Conversation(id=conversations.new_conversation_id(), contact_id=contact.id,
                                         last_channel=channel))
    inbound = Inbound(channel, address, text, provider_message_id=f"m-{uuid.uuid4().hex}", verified_phone=phone,
                      verified_by={"whatsapp": "twilio_from", "telegram": "telegram_contact"}[channel] if phone else None)
    party = conversations.resolve(inbound)
    message_id = conversations.store_inbound(party, inbound, text)
    conversations.mark_processed(message_id)
    with session_scope() as session:
        session.get(Message, message_id).created_at = utcnow() - dt.timedelta(hours=hours_ago)
        if language:
            session.get(Conversation, party.conversation_id).language = language
            session.get(Contact, party.contact_id).language = language
    return party.conversation_id


def raise_event(order_id: str, kind: str = "delayed", event_id: Optional[str] = None, at: dt.datetime = NOON,
                **fields) -> operator_notices.Recorded:
    event = OrderEvent(event_id or f"erp-{uuid.uuid4().hex}", order_id, kind, **fields)
    recorded = operator_notices.raise_event(event, "api", now=at)
    assert recorded is not None
    return recorded


def run_notice(hub: Hub, notice_id: int) -> None:
    """What a replica's scheduler does with a due notice job."""
    job = jobs.take(NOTICE_JOB, str(notice_id), hub.jobs.owner)
    assert job is not None
    hub.run(hub.notifier.run(job))  # type: ignore[attr-defined]


def notice(notice_id: int) -> Notice:
    with session_scope() as session:
        return session.get(Notice, notice_id)


def reply_to(hub: Hub, channel: str, address: str, text: str, phone: Optional[str] = None) -> list[str]:
    inbound = Inbound(channel, address, text, provider_message_id=f"m-{uuid.uuid4().hex}", verified_phone=phone,
                      verified_by="twilio_from" if phone else None)
    receipt = hub.run(hub.receive(inbound))  # type: ignore[attr-defined]
    with session_scope() as session:
        return [session.get(Message, i).text for i in receipt.replies]


# -- the tests ---------------------------------------------------------------------------------------
def test_ana_gets_one_spanish_notice_and_her_2_is_offered_stock_at_the_nearest_branch(
    hub: Hub, fake_twilio: FakeTwilio
) -> None:
    wrote("whatsapp", ANA, "hola", phone=ANA, hours_ago=1, fresh=True)
    before = len(fake_twilio.sent_to(ANA))
    event_id = f"erp-{uuid.uuid4().hex}"
    recorded = raise_event("PED-10235", event_id=event_id, reason="weather", expected_date=NEW_DATE)
    [notice_id] = recorded.notices
    run_notice(hub, notice_id)
    for _ in range(3):  # the ERP sends it again: stored once, nothing more
        assert not raise_event("ped-10235", event_id=event_id, reason="weather", expected_date=NEW_DATE).new
    [call] = fake_twilio.sent_to(ANA)[before:]
    body = call.params["Body"]
    assert "ContentSid" not in call.params  # she wrote an hour ago: free text
    assert "PED-10235" in body and labels.date(NEW_DATE, "es") in body and "mal clima" in body
    assert body.endswith("1. Esperar la nueva fecha\n2. Buscar una alternativa\n3. Enviar lo que ya está listo\n"
                         "4. Hablar con un asesor")
    assert "«ya no quiero avisos»" in body  # her first notice says how to stop them
    assert (notice(notice_id).status, notice(notice_id).channel) == ("sent", "whatsapp")

    [answer] = reply_to(hub, "whatsapp", ANA, "2", phone=ANA)
    backend = SqlBackend()
    order = backend.order("PED-10235")
    for item in order.items:  # each item, where it is in stock nearest to the order's branch
        line = next(line for line in answer.splitlines() if f"({item.sku})" in line)
        branch = next(b for b in backend.branches() if b.name in line)
        assert next(lv.quantity for lv in backend.stock(item.sku) if lv.branch.id == branch.id) >= item.quantity
    chosen = notice(notice_id)
    assert chosen.choice == "alternative" and chosen.chosen_at is not None
    ticket = backend.ticket(chosen.ticket_id)
    assert chosen.ticket_id in answer
    assert (ticket.order_id, ticket.area, ticket.category) == ("PED-10235", "logistics", "delivery")


def test_a_customer_who_never_wrote_gets_the_template_and_their_answer_gets_the_options(
    hub: Hub, fake_twilio: FakeTwilio
) -> None:
    phone = random_mobile()
    order_id = customer_with_order(phone)
    [notice_id] = raise_event(order_id, reason="stock_transfer", expected_date=NEW_DATE).notices
    run_notice(hub, notice_id)
    [call] = fake_twilio.sent_to(phone)
    assert "Body" not in call.params and call.params["ContentSid"] == NOTICE_SID
    assert json.loads(call.params["ContentVariables"]) == {
        "1": order_id, "2": "con retraso: " + labels.delay_reason("stock_transfer", None, "es"),
        "3": labels.date(NEW_DATE, "es")}
    assert notice(notice_id).template

    [full] = reply_to(hub, "whatsapp", phone, "hola, ¿qué pasó?", phone=phone)  # the window opens
    assert order_id in full and "2. Buscar una alternativa" in fake_twilio.sent_to(phone)[-1].params["Body"]
    assert "ContentSid" not in fake_twilio.sent_to(phone)[-1].params
    [wait] = reply_to(hub, "whatsapp", phone, "1", phone=phone)
    assert labels.date(NEW_DATE, "es") in wait and notice(notice_id).choice == "wait"


def test_without_the_notice_template_it_is_refused_and_counted(
    chat, fake_twilio: FakeTwilio, fake_telegram: FakeTelegram
) -> None:
    hub = make_hub(chat, fake_twilio, fake_telegram, notice_sid=None)
    since = utcnow()
    phone = random_mobile()
    [notice_id] = raise_event(customer_with_order(phone), reason="weather").notices
    run_notice(hub, notice_id)
    assert fake_twilio.sent_to(phone) == []
    with session_scope() as session:
        message = session.get(Message, notice(notice_id).message_id)
        assert (message.delivery_status, message.error) == (
            "refused", "a notice outside WhatsApp's 24-hour window and no notice template configured")
    [today] = [d for d in notices.daily(since) if d.channel == "whatsapp"]
    assert today.counts["refused"] == 1 and today.counts["sent"] == 0


def test_an_english_speaking_contact_on_telegram_gets_it_in_english_with_inline_buttons(
    hub: Hub, fake_telegram: FakeTelegram
) -> None:
    phone, chat_id = random_mobile(), str(random.randint(10**8, 10**9))
    order_id = customer_with_order(phone)
    wrote("telegram", chat_id, "hi, I have a question about an order", phone=phone, hours_ago=48, language="en")
    [notice_id] = raise_event(order_id, reason="weather", expected_date=NEW_DATE).notices
    run_notice(hub, notice_id)
    [call] = fake_telegram.sent_to(chat_id)
    assert call.params["text"].startswith(f"⚠️ A notice about your order {order_id}: it is delayed: bad weather")
    assert labels.date(NEW_DATE, "en") in call.params["text"]
    keyboard = call.params["reply_markup"]["inline_keyboard"]
    assert [row[0]["text"] for row in keyboard] == [
        "Wait for the new date", "Look for an alternative", "Ship what is ready now", "Talk to a person"]
    with session_scope() as session:  # each option names its notice (Telegram gets a digest of a long one)
        buttons = session.get(Message, notice(notice_id).message_id).payload["buttons"]
    assert all(f'"notice_id":"{notice_id}"' in button["payload"] for button in buttons)
    assert [row[0]["callback_data"] for row in keyboard] == [callback_data(b["payload"]) for b in buttons]


def test_at_2300_it_waits_for_0800_and_goes_once_across_a_restart_and_two_replicas(
    chat, fake_twilio: FakeTwilio, fake_telegram: FakeTelegram
) -> None:
    phone, chat_id = random_mobile(), str(random.randint(10**8, 10**9))
    order_id = customer_with_order(phone)
    wrote("telegram", chat_id, "hola", phone=phone)
    night, eight = dt.datetime(2027, 2, 10, 23, 0, tzinfo=MX), dt.datetime(2027, 2, 11, 8, 0, tzinfo=MX)
    [notice_id] = raise_event(order_id, at=night, reason="weather").notices
    assert notice(notice_id).due_at == eight
    a, b = (make_hub(chat, fake_twilio, fake_telegram, owner=f"replica-{name}") for name in "ab")
    clock = {"now": eight - dt.timedelta(minutes=1)}
    for replica in (a, b):
        replica.notifier.clock = lambda: clock["now"]
        a.run(replica.jobs.run_due([NOTICE_JOB], due_by=clock["now"]))
    assert notice(notice_id).status == "scheduled" and fake_telegram.sent_to(chat_id) == []  # 07:59: not yet

    clock["now"] = eight
    stale = jobs.take(NOTICE_JOB, str(notice_id), "replica-a", lease=0.5)  # replica a takes it, then dies
    assert stale is not None
    a.run(b.jobs.run_due([NOTICE_JOB], due_by=eight))
    assert notice(notice_id).status == "scheduled"  # b leaves it alone while a's claim lives

    def lease_ran_out() -> bool:
        with session_scope() as session:
            return session.get(Job, stale.id).lease_until < utcnow()

    wait_until(lease_ran_out, 10, "replica a's lease to run out")
    restarted = make_hub(chat, fake_twilio, fake_telegram, owner="replica-a")
    restarted.notifier.clock = b.notifier.clock

    async def both_at_once() -> list[int]:
        return await asyncio.gather(restarted.jobs.run_due([NOTICE_JOB], due_by=eight),
                                    b.jobs.run_due([NOTICE_JOB], due_by=eight))

    a.run(both_at_once())
    a.run(a.notifier.run(stale))  # the old replica's claim, run late: nothing more
    assert len(fake_telegram.sent_to(chat_id)) == 1
    assert notice(notice_id).status == "sent"
    with session_scope() as session:
        assert session.execute(select(Job).where(Job.kind == NOTICE_JOB, Job.ref == str(notice_id))).first() is None


def test_opted_out_the_next_event_sends_nothing_opted_in_again_it_does(hub: Hub, fake_twilio: FakeTwilio) -> None:
    phone = random_mobile()
    order_id = customer_with_order(phone)
    wrote("whatsapp", phone, "hola", phone=phone)
    [stopped] = reply_to(hub, "whatsapp", phone, "ya no quiero avisos", phone=phone)
    assert "ya no te enviaremos avisos" in stopped
    [notice_id] = raise_event(order_id, "shipped").notices
    run_notice(hub, notice_id)
    assert notice(notice_id).status == "opted_out"
    assert fake_twilio.sent_to(phone)[-1].params["Body"] == stopped  # nothing after the confirmation

    [started] = reply_to(hub, "whatsapp", phone, "quiero recibir avisos", phone=phone)
    assert "Te avisaremos aquí" in started
    [notice_id] = raise_event(order_id, "shipped").notices
    run_notice(hub, notice_id)
    assert notice(notice_id).status == "sent"
    body = fake_twilio.sent_to(phone)[-1].params["Body"]
    assert body.startswith(f"🚚 Tu pedido {order_id} ya va en camino. Paquetería: DHL, guía 4829100042.")
