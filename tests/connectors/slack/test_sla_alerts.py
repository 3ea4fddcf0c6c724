"""SLA alerts at the desk (connectors/slack/sla_alerts.py): a warning at 80 % and a breach alert
at 100 % of a promise's business time, each posted once to the fake Slack with two replicas running
the timers at once on PostgreSQL, and again after a restart; a hand-off's timer stopped by the
first agent reply sent, a ticket's by the backend closing it.

No sleeping and no server: every pass of every replica is called directly at a time the test
chooses (the timers' due times are business times computed from fixed hand-off and ticket times).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any, Iterator, Optional
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select, update

from actions.backend import base
from actions.backend import tables as erp
from actions.backend.sql import SqlBackend
from actions.tickets import start_sla
from bot import config, conversations, db, handoff, jobs, sla
from bot.db import session_scope
from bot.hub import Hub
from bot.messages import Inbound, Outbound
from bot.store import desk as desk_store
from bot.store import sla as sla_store
from bot.store.desk import Markers
from bot.store.models import Conversation, Job
from connectors.slack.desk import CHANNEL, SlackDesk
from connectors.slack.sla_alerts import SlaAlerts, alert_key
from tests.connectors.slack_fake import FakeSlack, rendered
from tests.connectors.support import random_mobile
from tests.helpers import temporary_database

AGENTS = "C0AGENTS01"
MEXICO_CITY = ZoneInfo("America/Mexico_City")
WEDNESDAY = dt.datetime(2025, 11, 26, 11, 0, tzinfo=MEXICO_CITY)  # inside business hours


def at(hours: float = 0, minutes: float = 0, days: int = 0) -> dt.datetime:
    return WEDNESDAY + dt.timedelta(days=days, hours=hours, minutes=minutes)


@pytest.fixture(scope="module")
def postgresql(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL database of the module's own: the replicas' database (FOR UPDATE SKIP LOCKED)."""
    with pytest.MonkeyPatch.context() as patch, temporary_database("postgresql", tmp_path_factory.mktemp("sla")) as url:
        patch.setenv("DATABASE_URL", url)
        config.reload()
        yield url
    config.reload()


class Replica:
    """One replica's SLA side: its own scheduler (owner name), its own Slack client, one clock."""

    def __init__(self, name: str, fake: FakeSlack, client: Any = None) -> None:
        self.clock = [WEDNESDAY]
        self.alerts = SlaAlerts(client or AsyncWebClient(token=fake.token, base_url=fake.base_url), AGENTS,
                                jobs.Scheduler(owner=name), Markers(CHANNEL), SqlBackend(), now=lambda: self.clock[0])

    async def tick(self, now: dt.datetime) -> None:
        self.clock[0] = now
        await self.alerts.tick(now)


async def all_tick(replicas: list[Replica], now: dt.datetime) -> None:
    """Every replica's pass at the same moment, side by side."""
    await asyncio.gather(*(replica.tick(now) for replica in replicas))


def posts(fake: FakeSlack, needle: str, thread: Optional[str] = None) -> list[str]:
    return [rendered(c) for c in fake.of("chat.postMessage", channel=AGENTS)
            if c.args.get("thread_ts") == thread and needle in rendered(c)]


def conversation_on(channel: str) -> str:
    return conversations.resolve(Inbound(channel, uuid.uuid4().hex, "hola")).conversation_id


def open_ticket(opened: dt.datetime, description: str, conversation_id: Optional[str] = None) -> base.Ticket:
    """A ticket opened at `opened`, timed as the actions time it."""
    ticket = SqlBackend(clock=lambda: opened).create_ticket(
        base.NewTicket(category="billing", description=description, conversation_id=conversation_id))
    start_sla(ticket)
    return ticket


async def test_ticket_warning_and_breach_are_posted_once_by_two_replicas_and_after_a_restart(
    postgresql: str, fake_slack: FakeSlack
) -> None:
    # Urgent billing tickets: 4 business hours from 11:00, a warning at 14:12, due at 15:00.
    tickets = [open_ticket(WEDNESDAY, "me cobraron dos veces", conversation_on("webchat")) for _ in range(5)]
    assert {t.priority for t in tickets} == {"urgent"} and tickets[0].due_at == at(hours=4)
    replicas = [Replica("replica-a", fake_slack), Replica("replica-b", fake_slack)]

    await all_tick(replicas, at(hours=3, minutes=11))
    assert not any(posts(fake_slack, t.id) for t in tickets)
    await all_tick(replicas, at(hours=3, minutes=13))
    await all_tick(replicas, at(hours=3, minutes=14))
    for ticket in tickets:
        [warning] = posts(fake_slack, ticket.id)  # in the agents' channel, once
        assert "vence el miércoles 26 de noviembre, 15:00 h" in warning and "is due Wednesday, November 26, 15:00 h" in warning
        assert "facturación y cobranza, prioridad urgente" in warning and "(billing, urgent priority)" in warning
    await all_tick(replicas, at(hours=4, minutes=1))

    # A replica died after posting, before its job was done: the timers run again after a restart.
    for ticket in tickets:
        [clock] = sla_store.clocks_of("ticket", [ticket.id])
        for kind in (sla.WARNING_JOB, sla.BREACH_JOB):
            assert jobs.schedule(kind, ticket.id, due_at=at(hours=4), key=sla.job_key(kind, clock),
                                 payload={"kind": "ticket", "episode": clock.episode}) is not None
    restarted = [Replica("replica-c", fake_slack), Replica("replica-d", fake_slack)]  # same database
    for moment in (at(hours=4, minutes=2), at(days=1)):
        await all_tick(restarted, moment)
    for ticket in tickets:
        alerts = posts(fake_slack, ticket.id)
        assert len(alerts) == 2 and "SLA incumplido" in alerts[1] and "was due Wednesday, November 26, 15:00 h" in alerts[1]
    day = (at(days=-1), at(days=2))
    assert sla.figures(*day)["webchat"] == {"warned": 5, "breached": 5}


async def test_a_ticket_closed_in_the_backend_stops_its_timers(postgresql: str, fake_slack: FakeSlack) -> None:
    ticket = open_ticket(WEDNESDAY, "me hicieron un cobro doble, es urgente")
    with session_scope() as session:
        session.execute(update(erp.Ticket).where(erp.Ticket.id == ticket.id).values(status="resolved"))
    replica = Replica("replica-a", fake_slack)
    await replica.tick(at(hours=5))  # both timers due: the ticket was answered first
    assert posts(fake_slack, ticket.id) == []
    [clock] = sla_store.clocks_of("ticket", [ticket.id])
    assert clock.stopped_at is not None and ticket.id not in {i["ref"] for i in sla.open_items(at(hours=5))}


class StoreOnlySender:
    def __init__(self, channel: str) -> None:
        self.channel = channel

    async def send(self, address: str, outbound: Outbound, message_id: int) -> Optional[str]:
        return None


async def handed_off(desk: SlackDesk) -> tuple[str, str]:
    """A WhatsApp customer handed to a person at 11:00 on a Wednesday, with their thread posted."""
    number = random_mobile()
    inbound = Inbound("whatsapp", number, "quiero un asesor", verified_phone=number, verified_by="twilio_from")
    party = conversations.resolve(inbound)
    conversations.store_inbound(party, inbound, "quiero un asesor")
    assert handoff.request(party.conversation_id, reason="test", channel="whatsapp", language="es")
    with session_scope() as session:
        session.execute(update(Conversation).where(Conversation.id == party.conversation_id).values(handed_off_at=WEDNESDAY))
    await desk.escalated(party.conversation_id)
    thread = desk_store.thread_of(party.conversation_id)
    assert thread is not None
    return party.conversation_id, thread


async def test_handoff_alerts_in_their_threads_once_and_stopped_by_the_first_reply(
    postgresql: str, fake_slack: FakeSlack
) -> None:
    hub = Hub()
    hub.register_sender(StoreOnlySender("whatsapp"))
    desk = SlackDesk(hub, AsyncWebClient(token=fake_slack.token, base_url=fake_slack.base_url), AGENTS,
                     now=lambda: WEDNESDAY)
    (waiting, waiting_thread), (answered, answered_thread), (returned, returned_thread) = [
        await handed_off(desk) for _ in range(3)]
    replicas = [Replica("replica-a", fake_slack), Replica("replica-b", fake_slack)]

    await all_tick(replicas, at(minutes=23))
    assert await desk.return_to_bot(returned, "U0LUIS0001") is None  # the hand-off ended: no alerts
    await all_tick(replicas, at(minutes=24))
    for thread in (waiting_thread, answered_thread):
        [warning] = posts(fake_slack, "SLA:", thread)
        assert "la primera respuesta vence el miércoles 26 de noviembre, 11:30 h (30 min hábiles)" in warning
        assert "the first reply is due Wednesday, November 26, 11:30 h (30 business min)" in warning

    # An agent answers in the thread: the reply is sent, the timer stops before its breach.
    assert await desk.agent_wrote(answered_thread, "1764176700.000100", "U0MARTA001", "Hola, ya lo reviso") is None
    restarted = [Replica("replica-c", fake_slack), Replica("replica-d", fake_slack)]
    for moment in (at(minutes=30), at(minutes=31), at(days=1)):
        await all_tick(restarted, moment)
    assert len(posts(fake_slack, "SLA", waiting_thread)) == 2
    assert "ningún asesor ha respondido al cliente; vencía el miércoles 26 de noviembre, 11:30 h" in posts(fake_slack, "SLA", waiting_thread)[1]
    assert len(posts(fake_slack, "SLA", answered_thread)) == 1  # the warning only
    assert posts(fake_slack, "SLA", returned_thread) == []
    running = {(c.ref, c.stopped_at is None) for c in sla_store.clocks_of("handoff", [waiting, answered, returned])}
    assert running == {(waiting, True), (answered, False), (returned, False)}


class FlakySlack:
    """The real client, whose chat.postMessage Slack refuses once (rate-limited)."""

    def __init__(self, fake: FakeSlack) -> None:
        self.client = AsyncWebClient(token=fake.token, base_url=fake.base_url)
        self.refusals = 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    async def chat_postMessage(self, **kwargs: Any) -> Any:  # noqa: N802 - slack_sdk's name
        if self.refusals:
            self.refusals -= 1
            raise SlackApiError("ratelimited", {"ok": False, "error": "ratelimited"})
        return await self.client.chat_postMessage(**kwargs)


async def test_an_alert_whose_poster_died_is_found_in_slack_or_posted_once(postgresql: str, fake_slack: FakeSlack) -> None:
    posted, lost = open_ticket(WEDNESDAY, "cobro doble urgente"), open_ticket(WEDNESDAY, "doble cobro, urgente")
    client = AsyncWebClient(token=fake_slack.token, base_url=fake_slack.base_url)
    for ticket in (posted, lost):  # a replica claimed each warning, then died
        [clock] = sla_store.clocks_of("ticket", [ticket.id])
        assert sla_store.claim_alert(clock, "warned", "replica-dead", dt.timedelta(seconds=30)) == "new"
        if ticket is posted:  # ... after Slack took this one, before it was confirmed
            await client.chat_postMessage(channel=AGENTS, text=f"⚠️ SLA: el ticket *{ticket.id}* (dead replica)",
                                          metadata={"event_type": "unisono_sla_alert",
                                                    "event_payload": {"key": alert_key(clock, "warned")}})
    replica = Replica("replica-a", fake_slack, client=FlakySlack(fake_slack))
    await replica.tick(at(hours=3, minutes=15))  # the warnings are due, but the claims are fresh: later
    assert (len(posts(fake_slack, posted.id)), posts(fake_slack, lost.id)) == (1, [])

    with session_scope() as session:  # the dead replica's lease has run out
        session.execute(update(sla_store.SlaAlert).values(attempted_at=db.utcnow() - dt.timedelta(minutes=5)))
    for moment in (at(hours=3, minutes=16), at(hours=3, minutes=17)):  # Slack refuses the first post
        retry_now(posted.id, lost.id)
        await replica.tick(moment)
    assert len(posts(fake_slack, posted.id)) == 1  # found in the channel by its key: not posted again
    assert len(posts(fake_slack, lost.id)) == 1  # never reached Slack: posted, once
    with session_scope() as session:
        sent = session.execute(select(sla_store.SlaAlert.ref, sla_store.SlaAlert.sent_at.is_not(None))
                               .where(sla_store.SlaAlert.ref.in_([posted.id, lost.id]))).all()
    assert sorted(sent) == sorted([(posted.id, True), (lost.id, True)])


def retry_now(*refs: str) -> None:
    """A failed warning waits for its backoff in real time; the test's clock is a day in 2025."""
    with session_scope() as session:
        session.execute(update(Job).where(Job.kind == sla.WARNING_JOB, Job.ref.in_(refs)).values(due_at=WEDNESDAY))
