"""Erasing a person reaches the agents' channel (connectors/slack/erasure.py), in-process on the test
database and the fake Slack Web API: no model, no server.

The person goes through a whole hand-off (after hours, so a ticket is opened too): summary, a
relayed message, a claim, an agent's reply and note, the resolve and the survey. Erasing them
deletes every message we posted about them from Slack (or blanks it where Slack refuses the
deletion; what fails for a passing reason is retried by a durable job); then neither the database,
every table and column, nor what is left in Slack holds their phone, e-mail, name or words, and
the service's counts are unchanged."""
from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import string

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import MetaData, Table, Text, cast, func, inspect, select

from bot import audit, conversations, db, handoff
from bot.config import ROOT
from bot.db import session_scope, utcnow
from bot.hub import Hub
from bot.messages import Inbound
from bot.store import desk as desk_store
from bot.store.models import Conversation, Message
from bot.tracker_store import UnisonoTrackerStore
from connectors.slack import erasure
from connectors.slack.desk import SlackDesk
from ops import privacy
from tests.connectors.slack.test_desk import StoreOnlySender
from tests.connectors.slack_fake import BOT_USER, FakeSlack
from tests.connectors.support import random_mobile

AGENTS = "C0AGENTS01"
LUIS = "U0LUIS0002"
OPERATOR = "operator:test-erasure"
SUNDAY_NOON = dt.datetime.fromisoformat("2025-11-30T12:00:00-06:00")  # after hours: a ticket is opened


def token(prefix: str) -> str:
    """A word nobody else in the test session writes."""
    return prefix + "".join(secrets.choice(string.ascii_lowercase) for _ in range(8))


def everything_in_the_database() -> list[tuple[str, str, str]]:
    """(table, column, value) of every non-empty value of every column of every table, as text."""
    engine = db.get_engine()
    found = []
    with engine.connect() as connection:
        for name in inspect(engine).get_table_names():
            table = Table(name, MetaData(), autoload_with=engine)
            for row in connection.execute(select(*(cast(c, Text).label(c.name) for c in table.columns))):
                found += [(name, column, value) for column, value in row._mapping.items() if value is not None]
    return found


def holding(needles: list[str], values: list[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    """(needle, table, column) for each value that holds a needle, ignoring case."""
    return {(n, t, c) for t, c, v in values for n in needles if n.lower() in v.lower()}


def counts_of(conversation_id: str) -> tuple:
    """What the service's figures count of a conversation: statuses, times, CSAT, messages by kind."""
    with session_scope() as session:
        c = session.get(Conversation, conversation_id)
        messages = session.execute(
            select(Message.direction, Message.author, Message.private, Message.delivery_status, func.count())
            .where(Message.conversation_id == conversation_id)
            .group_by(Message.direction, Message.author, Message.private, Message.delivery_status)
        ).all()
        return (c.status, c.handed_off_at, c.resolved_at, c.first_response_at, c.csat, c.csat_agent,
                c.assigned_agent, sorted(tuple(m) for m in messages))


async def a_whole_handoff(fake: FakeSlack, desk: SlackDesk, hub: Hub, person: dict) -> tuple[int, str, str]:
    """(contact id, conversation id, thread root ts) of a customer taken through a hand-off."""
    first = Inbound("whatsapp", person["phone"], f"mi impresora {person['word']} llegó rota, llámenme al {person['phone']}",
                    display_name=person["name"], verified_phone=person["phone"], verified_by="twilio_from")
    party = conversations.resolve(first)
    conversations.store_inbound(party, first, first.text)
    privacy.rectify(party.contact_id, email=person["email"], actor=OPERATOR)
    tracker = DialogueStateTracker.from_events(party.conversation_id, [UserUttered(first.text)])
    await UnisonoTrackerStore(Domain.load(str(ROOT / "domain.yml"))).save(tracker)
    assert handoff.request(party.conversation_id, reason="test", channel="whatsapp", language="es")
    await desk.escalated(party.conversation_id)
    root = desk_store.thread_of(party.conversation_id)
    again = Inbound("whatsapp", person["phone"], f"el {person['word']} sigue sin prender")
    await desk.customer_wrote(party.conversation_id, conversations.store_inbound(party, again, again.text), again.text)
    await desk.claim(party.conversation_id, LUIS)
    for text in ("Con gusto te ayudo, ya lo reviso", "note: cliente frecuente"):
        await desk.agent_wrote(root, fake.human_post(AGENTS, LUIS, text, thread_ts=root), LUIS, text)
    await desk.resolve(party.conversation_id, LUIS)
    rating = await hub.accept(Inbound("whatsapp", person["phone"], "5"))
    assert await desk.csat_interceptor(rating, rating.party, "es")
    return party.contact_id, party.conversation_id, root


async def test_erasing_a_person_who_went_through_a_handoff_leaves_nothing_of_them(database_url: str, fake_slack: FakeSlack,
                                                                                 monkeypatch) -> None:
    hub = Hub()
    hub.register_sender(StoreOnlySender("whatsapp"))
    client = AsyncWebClient(token=fake_slack.token, base_url=fake_slack.base_url)
    desk = SlackDesk(hub, client, AGENTS, now=lambda: SUNDAY_NOON)
    person = {"phone": random_mobile(), "word": token("xylo"), "name": f"Zoila {token('Quin')}",
              "email": f"{token('zoila')}@example.com"}
    contact_id, conversation_id, root = await a_whole_handoff(fake_slack, desk, hub, person)
    thread = [m for m in fake_slack.remaining(AGENTS) if root in (m["ts"], m["thread_ts"])]
    ours = {m["ts"] for m in thread if m["user"] == BOT_USER}
    agents = {m["ts"] for m in thread if m["user"] == LUIS}
    assert len(ours) == 5 and len(agents) == 2  # summary, relay, claimed, resolved, rating; a reply and a note
    assert {p.ts for p in desk_store.posts_of([conversation_id])} == ours | agents  # every one recorded
    digits = person["phone"][-10:]
    needles = [digits, "••••" + digits[-4:], person["email"], person["name"], person["name"].split()[1], person["word"]]
    shown = " ".join(m["rendered"] for m in thread).lower()
    assert [n for n in needles if n.lower() not in shown] == []  # the number too: the customer typed it
    found = holding(needles, everything_in_the_database())
    assert {n for n, _, _ in found} == set(needles) - {needles[1]}  # the search finds them while they are there
    assert {t for _, t, _ in found} >= {"contacts", "channel_identities", "messages", "tickets", "events"}
    before = counts_of(conversation_id)

    # Slack refuses to delete the summary (blanked instead) and rate-limits the relayed message.
    relay = next(m["ts"] for m in thread if person["word"] in (m["text"] or "") and m["ts"] != root)
    fake_slack.refuse("chat.delete", "cant_delete_message", ts=root, times=1)
    for method in ("chat.delete", "chat.update"):
        fake_slack.refuse(method, "ratelimited", ts=relay)
    for name, value in (("SLACK_BOT_TOKEN", fake_slack.token), ("SLACK_SIGNING_SECRET", "unused-here"),
                        ("SLACK_AGENT_CHANNEL", AGENTS), ("SLACK_API_BASE_URL", fake_slack.base_url)):
        monkeypatch.setenv(name, value)  # the command reaches Slack with the desk's own settings
    counts = await asyncio.to_thread(privacy.erase, contact_id, actor=OPERATOR)
    assert counts["slack"] == {"deleted": 3, "replaced": 1, "refused": 2, "retrying": 1}
    assert counts["tickets"] == 1 and counts["identities"] == 1 and counts["dialogue_events"] >= 1
    assert fake_slack.remaining(AGENTS) and any(m["ts"] == relay for m in fake_slack.remaining(AGENTS))

    fake_slack.clear_refusals()  # Slack recovers: the durable job, run by the desk, finishes it
    assert await hub.jobs.run_due([erasure.ERASE_JOB], due_by=utcnow() + dt.timedelta(hours=1)) >= 1
    deleted = {c.args["ts"] for c in fake_slack.of("chat.delete", channel=AGENTS) if c.result.get("ok")}
    assert deleted & (ours | agents) == ours - {root}
    left = [m for m in fake_slack.remaining(AGENTS) if root in (m["ts"], m["thread_ts"])]
    assert {m["ts"] for m in left} == {root} | agents  # the agents' own messages: only an admin may delete them
    assert next(m for m in left if m["ts"] == root)["rendered"].strip() == erasure.REDACTED

    assert [n for n in needles for m in left if n.lower() in m["rendered"].lower()] == []
    assert holding(needles, everything_in_the_database()) == set()
    assert counts_of(conversation_id) == before  # the figures keep their anonymous counts

    actions = [(e["actor"], e["action"]) for e in audit.entries(SUNDAY_NOON - dt.timedelta(days=3650), contact_id=contact_id)]
    assert actions == [(OPERATOR, "contacts.rectify"), (f"agent:{LUIS}", "handoff.claim"), (f"agent:{LUIS}", "handoff.reply"),
                       (f"agent:{LUIS}", "handoff.note"), (f"agent:{LUIS}", "handoff.resolve"), (OPERATOR, "contacts.erase"),
                       ("system:desk", "desk.erase")]
    assert desk_store.posts_of([conversation_id]) and {p.kind for p in desk_store.posts_of([conversation_id])} == {"agent"}


async def test_each_answer_of_slack_has_its_outcome(database_url: str, fake_slack: FakeSlack) -> None:
    client = AsyncWebClient(token=fake_slack.token, base_url=fake_slack.base_url)
    post = lambda: fake_slack._answer("chat.postMessage", {"channel": AGENTS, "text": "x"}, fake_slack.token)["ts"]
    plain, blanked, limited, flaky = post(), post(), post(), post()
    fake_slack.refuse("chat.delete", "cant_delete_message", ts=blanked)
    fake_slack.refuse("chat.delete", "ratelimited", ts=limited)
    fake_slack.refuse("chat.update", "ratelimited", ts=limited)
    fake_slack.refuse("chat.delete", "internal_error", ts=flaky, times=1)
    human = fake_slack.human_post(AGENTS, LUIS, "hola")
    outcomes = [await erasure.erase_message(client, AGENTS, ts) for ts in (plain, blanked, limited, flaky, human, plain)]
    assert [(r.outcome.value, r.error) for r in outcomes] == [
        ("deleted", None), ("replaced", "cant_delete_message"), ("retrying", "ratelimited"),
        ("replaced", "internal_error"), ("refused", "cant_update_message"), ("deleted", None)]  # gone: deleted already
    fake_slack.clear_refusals()


async def test_with_the_desk_off_where_erase_runs_the_running_desk_deletes_them(database_url: str,
                                                                                  fake_slack: FakeSlack) -> None:
    """`contacts erase` on a host without Slack settings leaves every deletion to durable jobs;
    the replica whose desk is on takes them."""
    hub = Hub()
    client = AsyncWebClient(token=fake_slack.token, base_url=fake_slack.base_url)
    desk = SlackDesk(hub, client, AGENTS)
    number = random_mobile()
    inbound = Inbound("whatsapp", number, "necesito un asesor", verified_phone=number, verified_by="twilio_from")
    party = conversations.resolve(inbound)
    conversations.store_inbound(party, inbound, inbound.text)
    root = fake_slack._answer("chat.postMessage", {"channel": AGENTS, "text": "resumen"}, fake_slack.token)["ts"]
    desk_store.record_post(party.conversation_id, "", root, "summary")  # as migrated: the desk's own channel
    posts = desk_store.posts_of([party.conversation_id])
    assert await erasure.erase_posts(None, None, posts, party.contact_id) == {
        "deleted": 0, "replaced": 0, "refused": 0, "retrying": 1}
    assert await erasure.erase_posts(None, None, posts, party.contact_id) == {  # asked twice: still one job
        "deleted": 0, "replaced": 0, "refused": 0, "retrying": 1}
    assert await desk.hub.jobs.run_due([erasure.ERASE_JOB], due_by=utcnow()) >= 1  # (with any left by other tests)
    assert fake_slack.of("chat.delete", channel=AGENTS, ts=root)[0].result["ok"]
    assert desk_store.posts_of([party.conversation_id]) == []
