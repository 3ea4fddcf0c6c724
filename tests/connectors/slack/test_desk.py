"""The agents' desk (connectors/slack/desk.py) in-process, on the test database and a fake Slack
Web API: no model, no server. Business hours and the reminder's clock are injected."""
from __future__ import annotations

import datetime as dt
from typing import Optional
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from actions.backend import tables
from bot import audit, conversations, handoff
from bot.db import session_scope
from bot.hub import Hub
from bot.messages import Inbound, Outbound
from bot.store import desk as desk_store
from bot.store.models import Conversation, Message
from connectors.slack.desk import SlackDesk, parse_csat
from tests.connectors.slack_fake import FakeSlack, action_ids, rendered
from tests.connectors.support import random_mobile

AGENTS = "C0AGENTS01"
MEXICO_CITY = ZoneInfo("America/Mexico_City")
WEDNESDAY_11AM = "2025-11-26T11:00:00-06:00"  # inside business hours


@pytest.mark.parametrize(
    "text, score",
    [("5", 5), (" 4 ", 4), ("5 estrellas", 5), ("1 estrella", 1), ("3/5", 3), ("⭐⭐⭐⭐⭐", 5), ("⭐️⭐️", 2),
     ("5 ⭐", 5), ("4 stars", 4), ("0", None), ("6", None), ("55", None), ("⭐" * 6, None),
     ("5 pedidos por favor", None), ("hola", None), ("", None)],
)
def test_satisfaction_answers(text: str, score: Optional[int]) -> None:
    assert parse_csat(text) == score



class StoreOnlySender:
    def __init__(self, channel: str) -> None:
        self.channel = channel

    async def send(self, address: str, outbound: Outbound, message_id: int) -> Optional[str]:
        return None


def waiting_customer(text: str, language: str) -> str:
    """A WhatsApp customer who asked for a person: the conversation is waiting for an agent."""
    number = random_mobile()
    inbound = Inbound("whatsapp", number, text, display_name="Cliente Nocturno", verified_phone=number, verified_by="twilio_from")
    party = conversations.resolve(inbound)
    conversations.store_inbound(party, inbound, text)
    assert handoff.request(party.conversation_id, reason="test", channel="whatsapp", language=language)
    return party.conversation_id


@pytest.mark.parametrize(
    "local, language, expected_when",
    [("2025-11-30 12:00", "es", "lunes 1 de diciembre, 09:00 h"),
     ("2025-11-28 20:30", "en", "Saturday, November 29, 09:00 h")],
)
async def test_after_hours_handoff_opens_one_ticket_and_says_when_we_open(
    database_url: str, fake_slack: FakeSlack, local: str, language: str, expected_when: str
) -> None:
    hub = Hub()
    hub.register_sender(StoreOnlySender("whatsapp"))
    now = dt.datetime.fromisoformat(local).replace(tzinfo=MEXICO_CITY)
    desk = SlackDesk(hub, AsyncWebClient(token=fake_slack.token, base_url=fake_slack.base_url), AGENTS, now=lambda: now)
    question = "necesito un asesor, mi equipo llegó dañado" if language == "es" else "I need an agent, my laptop arrived broken"
    conversation_id = waiting_customer(question, language)

    await desk.escalated(conversation_id)
    await desk.escalated(conversation_id)  # a second call for the same hand-off changes nothing

    with session_scope() as session:
        tickets = session.execute(select(tables.Ticket).where(tables.Ticket.conversation_id == conversation_id)).scalars().all()
        assert len(tickets) == 1
        ticket = tickets[0]
        assert ticket.category == "other"
        assert ticket.description == f"Solicitud de asesor fuera de horario: {question}"
        told = session.execute(
            select(Message).where(Message.conversation_id == conversation_id, Message.author == "system",
                                  Message.private.is_(False))
        ).scalars().all()
        conversation = session.get(Conversation, conversation_id)
    assert len(told) == 1 and ticket.id in told[0].text and expected_when in told[0].text
    assert ("Our agents work" in told[0].text) == (language == "en")
    posts = [c for c in fake_slack.of("chat.postMessage", channel=AGENTS) if conversation_id in rendered(c)]
    assert len(posts) == 1
    assert desk_store.thread_of(conversation_id) == posts[0].result["ts"]
    assert ticket.id in rendered(posts[0]) and action_ids(posts[0]) == ["unisono_claim", "unisono_return"]


async def test_inside_business_hours_no_ticket_is_opened(database_url: str, fake_slack: FakeSlack) -> None:
    hub = Hub()
    hub.register_sender(StoreOnlySender("whatsapp"))
    now = dt.datetime.fromisoformat(WEDNESDAY_11AM)
    desk = SlackDesk(hub, AsyncWebClient(token=fake_slack.token, base_url=fake_slack.base_url), AGENTS, now=lambda: now)
    conversation_id = waiting_customer("quiero hablar con una persona", "es")
    await desk.escalated(conversation_id)
    with session_scope() as session:
        assert session.execute(select(tables.Ticket).where(tables.Ticket.conversation_id == conversation_id)).first() is None
        assert session.execute(select(Message).where(Message.conversation_id == conversation_id, Message.author == "system",
                                                     Message.private.is_(False))).first() is None
    assert [c for c in fake_slack.of("chat.postMessage", channel=AGENTS) if conversation_id in rendered(c)]


def reminders(fake: FakeSlack, root_ts: str) -> int:
    return sum("Nadie ha tomado" in rendered(c) for c in fake.of("chat.postMessage", channel=AGENTS, thread_ts=root_ts))


async def test_an_unclaimed_handoff_gets_one_reminder(database_url: str, fake_slack: FakeSlack) -> None:
    """Each pass of the reminder step is called directly, at a time the test chooses."""
    hub = Hub()
    hub.register_sender(StoreOnlySender("whatsapp"))
    inside_hours = dt.datetime.fromisoformat(WEDNESDAY_11AM)
    client = AsyncWebClient(token=fake_slack.token, base_url=fake_slack.base_url)
    desk = SlackDesk(hub, client, AGENTS, reminder_minutes=5, now=lambda: inside_hours)
    conversation_id = waiting_customer("necesito un asesor", "es")
    await desk.escalated(conversation_id)
    root_ts = desk_store.thread_of(conversation_id)
    handed_off_at = desk_store.snapshot(conversation_id).handed_off_at
    assert root_ts is not None and handed_off_at is not None

    await desk.tick(now=handed_off_at + dt.timedelta(minutes=4, seconds=59))
    assert reminders(fake_slack, root_ts) == 0  # not yet: five minutes have not passed

    for minutes in (5, 6, 30):  # the loop's later passes find the reminder already sent
        await desk.tick(now=handed_off_at + dt.timedelta(minutes=minutes))
    assert reminders(fake_slack, root_ts) == 1

    assert await desk.claim(conversation_id, "U0LUIS0001") is None
    await desk.tick(now=handed_off_at + dt.timedelta(hours=2))
    assert reminders(fake_slack, root_ts) == 1


async def test_a_reminder_slack_refused_is_sent_on_the_next_pass(database_url: str, fake_slack: FakeSlack) -> None:
    hub = Hub()
    hub.register_sender(StoreOnlySender("whatsapp"))
    inside_hours = dt.datetime.fromisoformat(WEDNESDAY_11AM)
    desk = SlackDesk(hub, AsyncWebClient(token=fake_slack.token, base_url=fake_slack.base_url), AGENTS,
                     reminder_minutes=5, now=lambda: inside_hours)
    conversation_id = waiting_customer("quiero un asesor", "es")
    await desk.escalated(conversation_id)
    root_ts = desk_store.thread_of(conversation_id)
    later = desk_store.snapshot(conversation_id).handed_off_at + dt.timedelta(minutes=6)

    async def refused(thread_ts: str, text: str, conversation_id: Optional[str] = None) -> bool:
        return False

    say = desk._say_in_thread
    desk._say_in_thread = refused  # type: ignore[method-assign]
    await desk.tick(now=later)
    desk._say_in_thread = say  # type: ignore[method-assign]
    assert reminders(fake_slack, root_ts) == 0
    await desk.tick(now=later)
    assert reminders(fake_slack, root_ts) == 1


async def test_the_audit_trail_records_each_step_of_a_scripted_handoff(database_url: str, fake_slack: FakeSlack) -> None:
    """Claim, reply, note and resolve of one hand-off, claim and return of another: each an entry
    under its agent, about the contact, with no personal data; a retried Slack event adds nothing."""
    hub = Hub()
    hub.register_sender(StoreOnlySender("whatsapp"))
    inside_hours = dt.datetime.fromisoformat(WEDNESDAY_11AM)
    desk = SlackDesk(hub, AsyncWebClient(token=fake_slack.token, base_url=fake_slack.base_url), AGENTS,
                     now=lambda: inside_hours)
    start = dt.datetime.now(dt.timezone.utc)
    ana, beto = "U0ANA00001", "U0BETO0001"
    first = waiting_customer("necesito un asesor para mi factura", "es")
    await desk.escalated(first)
    root = desk_store.thread_of(first)
    assert await desk.claim(first, ana) is None
    for ts, text in (("1700000001.000001", "Hola, reviso tu factura"), ("1700000001.000002", "note: pidió factura A"),
                     ("1700000001.000001", "Hola, reviso tu factura")):  # the last one: Slack's retry of the first
        await desk.agent_wrote(root, ts, ana, text)
    assert await desk.resolve(first, ana) is None
    second = waiting_customer("quiero hablar con alguien", "es")
    await desk.escalated(second)
    await desk.agent_wrote(desk_store.thread_of(second), "1700000002.000001", beto, "Hola")  # a reply claims it
    assert await desk.return_to_bot(second, beto) is None
    assert await desk.claim(second, ana) is not None  # not waiting any more: refused, and not recorded

    trail = [e for e in audit.entries(start) if e["actor"].startswith("agent:")]
    contact = {c: desk_store.snapshot(c).contact_id for c in (first, second)}
    assert [(e["actor"], e["action"], e["contact_id"], e["detail"]["conversation"]) for e in trail] == [
        (f"agent:{ana}", "handoff.claim", contact[first], first),
        (f"agent:{ana}", "handoff.reply", contact[first], first),
        (f"agent:{ana}", "handoff.note", contact[first], first),
        (f"agent:{ana}", "handoff.resolve", contact[first], first),
        (f"agent:{beto}", "handoff.claim", contact[second], second),
        (f"agent:{beto}", "handoff.reply", contact[second], second),
        (f"agent:{beto}", "handoff.return", contact[second], second),
    ]
    assert isinstance(trail[1]["detail"]["message"], int)  # the reply stored for the customer, by id
    assert "factura" not in str(trail)
