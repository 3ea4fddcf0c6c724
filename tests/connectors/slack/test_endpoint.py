"""The Slack endpoint (connectors/slack/endpoint.py): a fake Slack Web API on loopback, requests
signed like Slack's, and the real stack (WhatsApp through a fake Twilio on the customer's side)."""
from __future__ import annotations

import json
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator, Optional

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bot.db import session_scope
from bot.hub import Hub
from bot.store.desk import DeskThread
from bot.store.models import Conversation, Message
from connectors.slack import SlackInput
from connectors.slack.blocks import escape
from ops import migrate, seed
from tests.connectors.fake_providers import FakeTwilio
from tests.connectors.slack_fake import (
    BOT_ID,
    BOT_USER,
    FakeSlack,
    action_body,
    action_ids,
    command_body,
    event_body,
    message_event,
    rendered,
    signed_headers,
)
from tests.connectors.support import (
    BUSINESS_NUMBER,
    CHANNEL_VARIABLES_OFF,
    PUBLIC_URL,
    TWILIO_SID,
    TWILIO_TOKEN,
    Stack,
    random_mobile,
    wait_until,
)

AGENTS = "C0AGENTS01"
OTHER_CHANNEL = "C0RANDOM99"
SECRET = "test-slack-signing-secret"
LUIS, MARTA = "U0LUIS0001", "U0MARTA002"
ANA = "+5215512345678"
SLACK = "/webhooks/slack/webhook"
WHATSAPP = "/webhooks/whatsapp/webhook"
WEDNESDAY_11AM = "2025-11-26T11:00:00-06:00"  # inside business hours



async def test_without_credentials_the_endpoint_is_off_with_one_log_line(monkeypatch, caplog) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_AGENT_CHANNEL"):
        monkeypatch.setenv(name, "")
    hub = Hub()
    channel = SlackInput(hub=hub)
    with caplog.at_level(logging.INFO, logger="connectors.slack"):
        channel.blueprint(lambda message: None)
    lines = [r for r in caplog.records if r.name.startswith("connectors.")]
    assert len(lines) == 1 and "Slack desk is off" in lines[0].getMessage() and "SLACK_BOT_TOKEN" in lines[0].getMessage()
    answer = await channel.handle(SimpleNamespace(body=b"{}", headers={}, query_string=""))
    assert answer.status == 503 and json.loads(answer.body) == {"error": "the Slack desk is not configured"}
    assert hub.desk is None and not hub._interceptors


# -- the real stack ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest, tmp_path_factory, model_path: Path, fake_twilio: FakeTwilio,
          fake_slack: FakeSlack) -> Iterator[Stack]:
    """The whole assistant with Slack and WhatsApp on, on its own database (Ana starts fresh)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('slack') / 'slack.db'}"
    migrate.upgrade(url)
    seed.seed(url)
    root_conftest = request.config.pluginmanager.get_plugin(str(Path(__file__).resolve().parents[2] / "conftest.py"))
    env = {
        **CHANNEL_VARIABLES_OFF,
        "NO_PROXY": "127.0.0.1,localhost",
        "PUBLIC_URL": PUBLIC_URL,
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_WHATSAPP_NUMBER": BUSINESS_NUMBER,
        "TWILIO_API_BASE_URL": fake_twilio.url,
        "SLACK_BOT_TOKEN": fake_slack.token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_AGENT_CHANNEL": AGENTS,
        "SLACK_API_BASE_URL": fake_slack.base_url,
        "HANDOFF_REMINDER_MINUTES": "0.05",  # 3 s
        "HANDOFF_NOW": WEDNESDAY_11AM,
    }
    instance = Stack(root_conftest.start_server, url, env, "slack").start()
    yield instance
    instance.stop()


def customer_says(stack: Stack, number: str, text: str, name: str = "Cliente de prueba") -> None:
    params = {
        "MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": TWILIO_SID, "From": f"whatsapp:{number}",
        "To": f"whatsapp:{BUSINESS_NUMBER}", "Body": text, "NumMedia": "0", "ProfileName": name,
        "WaId": number.lstrip("+"),
    }
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + WHATSAPP, params)
    answer = stack.post(WHATSAPP, data=params, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 200, answer.text


def slack_post(stack: Stack, body: str, content_type: str = "application/json", **signing: Any):
    return stack.post(SLACK, content=body.encode(), headers=signed_headers(SECRET, body, content_type=content_type, **signing))


def agent_says(stack: Stack, user: str, text: str, thread_ts: str, ts: Optional[str] = None, channel: str = AGENTS,
               retry: Optional[int] = None, **extra: Any) -> str:
    ts = ts or f"{time.time():.6f}"
    answer = slack_post(stack, event_body(message_event(channel, user, text, ts, thread_ts, **extra)), retry=retry)
    assert answer.status_code == 200, answer.text
    return ts


def click(stack: Stack, user: str, action: str, conversation_id: str, root_ts: str):
    body = action_body(AGENTS, user, action, conversation_id, root_ts)
    return slack_post(stack, body, content_type="application/x-www-form-urlencoded")


def whatsapp_bodies(fake: FakeTwilio, number: str) -> list[str]:
    return [c.params.get("Body", "") for c in fake.sent_to(number)]


def wait_whatsapp(fake: FakeTwilio, number: str, text: str, timeout: float = 90.0) -> str:
    return fake.wait_for(lambda: next((b for b in whatsapp_bodies(fake, number) if text in b), None), timeout,
                         f"WhatsApp to {number} containing {text!r}")


def conversation_of(stack: Stack, number: str) -> Conversation:
    from bot.store.models import ChannelIdentity

    with session_scope(stack.database_url) as session:
        return session.execute(
            select(Conversation)
            .join(ChannelIdentity, ChannelIdentity.contact_id == Conversation.contact_id)
            .where(ChannelIdentity.channel == "whatsapp", ChannelIdentity.address == number)
        ).scalar_one()


def thread_of(stack: Stack, conversation_id: str) -> Optional[str]:
    with session_scope(stack.database_url) as session:
        return session.execute(
            select(DeskThread.thread_ts).where(DeskThread.conversation_id == conversation_id)
        ).scalar_one_or_none()


def messages(stack: Stack, conversation_id: str, after: int = 0) -> list[Message]:
    with session_scope(stack.database_url) as session:
        return list(session.execute(
            select(Message).where(Message.conversation_id == conversation_id, Message.id > after).order_by(Message.id)
        ).scalars())


def thread_posts(fake: FakeSlack, root_ts: str) -> list[str]:
    return [rendered(c) for c in fake.of("chat.postMessage", channel=AGENTS, thread_ts=root_ts)]


def hand_off(stack: Stack, fake_twilio: FakeTwilio, fake_slack: FakeSlack, number: str, name: str) -> tuple[str, str]:
    """`number` asks for a person; returns (conversation id, root ts of the Slack thread)."""
    def is_root(call) -> bool:
        return "thread_ts" not in call.args and f"🙋 {escape(name)} pide un asesor" in rendered(call)

    earlier = {c.result.get("ts") for c in fake_slack.of("chat.postMessage", channel=AGENTS) if is_root(c)}
    handoffs = sum("Te comunico con un asesor" in b for b in whatsapp_bodies(fake_twilio, number))
    customer_says(stack, number, "quiero hablar con un asesor", name)
    fake_twilio.wait_for(lambda: sum("Te comunico con un asesor" in b for b in whatsapp_bodies(fake_twilio, number)) > handoffs,
                         90, "the hand-off message")
    root = fake_slack.wait_for("chat.postMessage", lambda c: is_root(c) and c.result.get("ts") not in earlier, channel=AGENTS)
    ts = root.result["ts"]
    wait_until(lambda: thread_of(stack, conversation_of(stack, number).id) == ts, 30, "the thread ts stored")
    conversation = conversation_of(stack, number)
    assert conversation.status == "waiting_agent" and action_ids(root) == ["unisono_claim", "unisono_return"]
    return conversation.id, ts


def test_url_verification_and_refused_requests(stack: Stack, fake_slack: FakeSlack) -> None:
    challenge = json.dumps({"token": "unused", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                            "type": "url_verification"})
    answer = slack_post(stack, challenge)
    assert answer.status_code == 200 and answer.json()["challenge"].startswith("3eZbrw1aBm")

    # A message in a thread that belongs to no conversation: processed, it earns an ephemeral note.
    user = "U0STRANGER"
    body = event_body(message_event(AGENTS, user, "hola, texto-privado-42", f"{time.time():.6f}", thread_ts="1700000000.000100"))
    now = int(time.time())
    refused = [
        stack.post(SLACK, content=body.encode(), headers={"Content-Type": "application/json"}),  # unsigned
        stack.post(SLACK, content=body.encode(), headers=signed_headers("not-the-secret", body)),  # wrong secret
        stack.post(SLACK, content=body.encode(), headers=signed_headers(SECRET, body, timestamp=now - 6 * 60)),  # stale
        stack.post(SLACK, content=(body + " ").encode(), headers=signed_headers(SECRET, body)),  # body changed
        stack.post(SLACK, content=challenge.encode(), headers={"Content-Type": "application/json"}),  # unsigned challenge
    ]
    assert [r.status_code for r in refused] == [401] * 5
    assert "challenge" not in refused[-1].text
    time.sleep(1.0)
    assert fake_slack.of("chat.postEphemeral", user=user) == []
    assert "refused a Slack request" in stack.log() and "texto-privado-42" not in stack.log()  # no bodies in logs

    assert slack_post(stack, body).status_code == 200
    note = fake_slack.wait_for("chat.postEphemeral", user=user)
    assert "no pertenece a ninguna conversación" in note.args["text"]


def test_ana_is_handed_to_an_agent_and_back(stack: Stack, fake_twilio: FakeTwilio, fake_slack: FakeSlack) -> None:
    # Ana asks for a person on WhatsApp: one thread with her summary appears in the agents' channel.
    conversation_id, root_ts = hand_off(stack, fake_twilio, fake_slack, ANA, "Ana López")
    summary = rendered(next(c for c in fake_slack.of("chat.postMessage", channel=AGENTS) if c.result.get("ts") == root_ts))
    for expected in ("Ana López", "whatsapp", "••••5678", "PED-10234", "PED-10235", "TCK-2041", "Distribuidor / Distributor:* No",
                     "quiero hablar con un asesor", "Te comunico con un asesor", conversation_id):
        assert expected in summary, expected
    assert "5512345678" not in summary and "PED-10245" not in summary  # phone masked; delivered orders are not open

    # Two agents click Claim at the same moment: exactly one wins, the other is told who did.
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda user: click(stack, user, "unisono_claim", conversation_id, root_ts), (LUIS, MARTA)))
    assert [a.status_code for a in answers] == [200, 200]
    conversation = conversation_of(stack, ANA)
    assert conversation.status == "agent" and conversation.assigned_agent in (LUIS, MARTA)
    winner = conversation.assigned_agent
    loser = MARTA if winner == LUIS else LUIS
    lost = fake_slack.wait_for("chat.postEphemeral", user=loser)
    assert f"already claimed by <@{winner}>" in lost.args["text"]
    assert fake_slack.of("chat.postEphemeral", user=winner) == []
    updated = fake_slack.wait_for("chat.update", lambda c: f"<@{winner}>" in rendered(c), ts=root_ts)
    assert action_ids(updated) == ["unisono_resolve", "unisono_return"]

    # The agent answers in the thread: it reaches Ana on WhatsApp, as an agent's message.
    reply = "Hola Ana, soy Luis. Reviso tu pedido PED-10235 ahora mismo."
    agent_says(stack, winner, reply, root_ts)
    wait_whatsapp(fake_twilio, ANA, reply)
    reply_id = next(m.id for m in messages(stack, conversation_id) if m.text == reply and m.author == "agent" and not m.private)

    # Ana answers: her words reach the thread, and the bot stays quiet.
    customer_says(stack, ANA, "Gracias Luis, lo necesito para el lunes", "Ana López")
    wait_until(lambda: any("Gracias Luis, lo necesito para el lunes" in t for t in thread_posts(fake_slack, root_ts)), 30,
               "Ana's words in the thread")

    # A note stays internal: stored as private, never sent to Ana.
    agent_says(stack, winner, "note: cliente molesta por el retraso, ofrecer envío gratis", root_ts)
    fake_slack.wait_for("chat.postEphemeral", lambda c: "Nota interna" in c.args["text"], user=winner)

    # Slack retries an event (our answer was late): the reply is relayed once.
    retried = "¿Te parece si te lo enviamos por DHL express?"
    ts = agent_says(stack, winner, retried, root_ts)
    agent_says(stack, winner, retried, root_ts, ts=ts, retry=1)
    wait_whatsapp(fake_twilio, ANA, retried)

    # A customer's "<!channel>" is text in Slack, never a mention.
    customer_says(stack, ANA, "<!channel> urgente <@U0LUIS0001> & gracias", "Ana López")
    escaped = wait_until(lambda: next((t for t in thread_posts(fake_slack, root_ts) if "urgente" in t), None), 30,
                         "the escaped message in the thread")
    assert "&lt;!channel&gt; urgente &lt;@U0LUIS0001&gt; &amp; gracias" in escaped and "<!channel>" not in escaped

    # Messages from another channel, our own bot and other bots are ignored.
    agent_says(stack, winner, "esto viene de otro canal", root_ts, channel=OTHER_CHANNEL)
    agent_says(stack, BOT_USER, "esto lo escribió nuestro bot", root_ts, bot_id=BOT_ID)
    agent_says(stack, "U0OTHERBOT", "esto lo escribió otro bot", root_ts, bot_id="B0OTHER", subtype="bot_message")

    # Resolve: the conversation closes, Rasa resumes and Ana is asked for a rating.
    assert click(stack, winner, "unisono_resolve", conversation_id, root_ts).status_code == 200
    wait_whatsapp(fake_twilio, ANA, "1 (mala) al 5 (excelente)")
    conversation = conversation_of(stack, ANA)
    assert conversation.status == "closed" and conversation.resolved_at is not None
    closed = fake_slack.wait_for("chat.update", lambda c: "Resuelta por" in rendered(c), ts=root_ts)
    assert action_ids(closed) == []

    sent = whatsapp_bodies(fake_twilio, ANA)
    assert sum(retried in b for b in sent) == 1
    assert not any("molesta" in b or "otro canal" in b or "escribió" in b for b in sent)
    between = [m for m in messages(stack, conversation_id, after=reply_id) if not m.private]
    assert {m.author for m in between} == {"customer", "agent", "system"}  # nobody else spoke: no bot
    assert [m.author for m in between if m.author == "system"] == ["system"]  # only the rating question
    notes = [m for m in messages(stack, conversation_id) if m.private and m.author == "agent"
             and (m.payload or {}).get("kind") == "note"]
    assert [n.text for n in notes] == ["cliente molesta por el retraso, ofrecer envío gratis"]
    assert sum(1 for m in messages(stack, conversation_id) if m.text == retried and not m.private) == 1
    assert not any("otro canal" in (m.text or "") or "escribió" in (m.text or "") for m in messages(stack, conversation_id))

    # Her "5" is the rating, stored with the agent; then the bot answers again.
    customer_says(stack, ANA, "5", "Ana López")
    wait_whatsapp(fake_twilio, ANA, "¡Gracias por tu calificación!")
    conversation = conversation_of(stack, ANA)
    assert (conversation.csat, conversation.csat_agent) == (5, winner)
    wait_until(lambda: any("5/5" in t for t in thread_posts(fake_slack, root_ts)), 30, "the rating in the thread")

    customer_says(stack, ANA, "¿dónde está mi pedido PED-10234?", "Ana López")
    answer = wait_whatsapp(fake_twilio, ANA, "Estafeta")
    assert "PED-10234" in answer
    assert conversation_of(stack, ANA).status == "bot"
    assert messages(stack, conversation_id)[-1].author == "bot"


def test_a_reply_in_an_unclaimed_thread_claims_it_and_resolve_in_the_thread_closes_it(
    stack: Stack, fake_twilio: FakeTwilio, fake_slack: FakeSlack
) -> None:
    number = random_mobile()
    conversation_id, root_ts = hand_off(stack, fake_twilio, fake_slack, number, "Pedro Ruiz")
    agent_says(stack, MARTA, "Hola Pedro, te atiende Marta.", root_ts)
    wait_whatsapp(fake_twilio, number, "te atiende Marta")
    conversation = conversation_of(stack, number)
    assert (conversation.status, conversation.assigned_agent) == ("agent", MARTA)
    fake_slack.wait_for("chat.update", lambda c: f"<@{MARTA}>" in rendered(c), ts=root_ts)

    agent_says(stack, MARTA, "resolve", root_ts)
    wait_whatsapp(fake_twilio, number, "1 (mala) al 5 (excelente)")
    assert conversation_of(stack, number).status == "closed"
    assert not any(b.strip() == "resolve" for b in whatsapp_bodies(fake_twilio, number))

    # Anything but a rating goes back to the bot, which answers.
    before = len(whatsapp_bodies(fake_twilio, number))
    customer_says(stack, number, "¿cuál es su horario de atención?", "Pedro Ruiz")
    fake_twilio.wait_for(lambda: len(whatsapp_bodies(fake_twilio, number)) > before, 90, "the bot's answer")
    conversation = conversation_of(stack, number)
    assert conversation.status == "bot" and conversation.csat is None
    assert messages(stack, conversation_id)[-1].author == "bot"


def test_slash_resolve_and_return_to_bot(stack: Stack, fake_twilio: FakeTwilio, fake_slack: FakeSlack) -> None:
    number = random_mobile()
    conversation_id, root_ts = hand_off(stack, fake_twilio, fake_slack, number, "Sara Núñez")
    assert click(stack, LUIS, "unisono_claim", conversation_id, root_ts).status_code == 200

    hint = slack_post(stack, command_body(AGENTS, LUIS, "/resolve", ""), content_type="application/x-www-form-urlencoded")
    assert hint.status_code == 200 and "/resolve <id de conversación>" in hint.text.replace("`", "")
    assert conversation_of(stack, number).status == "agent"
    elsewhere = slack_post(stack, command_body(OTHER_CHANNEL, LUIS, "/resolve", conversation_id),
                           content_type="application/x-www-form-urlencoded")
    assert elsewhere.status_code == 200 and conversation_of(stack, number).status == "agent"

    assert click(stack, LUIS, "unisono_return", conversation_id, root_ts).status_code == 200
    wait_whatsapp(fake_twilio, number, "Te regreso con el asistente virtual")
    conversation = conversation_of(stack, number)
    assert conversation.status == "bot" and conversation.resolved_at is None
    assert not any("1 (mala) al 5" in b for b in whatsapp_bodies(fake_twilio, number))
    fake_slack.wait_for("chat.update", lambda c: "Devuelta al bot" in rendered(c), ts=root_ts)

    # The bot answers again.
    before = len(whatsapp_bodies(fake_twilio, number))
    customer_says(stack, number, "hola", "Sara Núñez")
    wait_whatsapp(fake_twilio, number, "Soy el asistente virtual")
    assert len(whatsapp_bodies(fake_twilio, number)) > before
    assert messages(stack, conversation_id)[-1].author == "bot"

    # A second hand-off of the same conversation gets a new thread; /resolve <id> closes it.
    second_id, second_ts = hand_off(stack, fake_twilio, fake_slack, number, "Sara Núñez")
    assert second_id == conversation_id and second_ts != root_ts
    done = slack_post(stack, command_body(AGENTS, MARTA, "/resolve", conversation_id),
                      content_type="application/x-www-form-urlencoded")
    assert done.status_code == 200
    wait_whatsapp(fake_twilio, number, "1 (mala) al 5 (excelente)")
    conversation = conversation_of(stack, number)
    assert (conversation.status, conversation.assigned_agent) == ("closed", MARTA)

    # Something else than a rating reopens the conversation to the bot; a digit after that is no rating.
    customer_says(stack, number, "hola otra vez", "Sara Núñez")
    wait_until(lambda: conversation_of(stack, number).status == "bot", 60, "the conversation back with the bot")
    before = len(whatsapp_bodies(fake_twilio, number))
    customer_says(stack, number, "5", "Sara Núñez")
    fake_twilio.wait_for(lambda: len(whatsapp_bodies(fake_twilio, number)) > before, 90, "the bot's answer")
    assert conversation_of(stack, number).csat is None
    assert not any("Gracias por tu calificación" in b for b in whatsapp_bodies(fake_twilio, number))


def test_the_server_reminds_agents_of_an_unclaimed_handoff(
    stack: Stack, fake_twilio: FakeTwilio, fake_slack: FakeSlack
) -> None:
    """The reminder loop runs in the server; that it reminds only once is tests/connectors/slack/test_desk.py's."""
    number = random_mobile()
    _, root_ts = hand_off(stack, fake_twilio, fake_slack, number, "Tomás Vega")
    wait_until(lambda: any("Nadie ha tomado" in t for t in thread_posts(fake_slack, root_ts)), 30, "the reminder")
