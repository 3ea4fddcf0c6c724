"""Many conversations at once over web chat, Telegram and WhatsApp: none lost, none out of order.

UNISONO_LOAD_CONVERSATIONS conversations (default 60, sized for CI on 2 cores) of 5 messages
each, split evenly over the three channels, all started within a few seconds. Web chat clients wait
for each answer (the widget's API answers in the request); Telegram and WhatsApp clients send their
five messages back to back, as a fast typist's phone does, and the provider fakes receive the
replies. Checked for every conversation: each message stored once and processed, each answered,
replies in message order (Rasa's own record of the dialogue, the store and the provider agree), no
5xx. The figures are printed (run with -s to see them).
"""
from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional

import httpx
import pytest

from tests.connectors.support import TELEGRAM_SECRET, wait_until
from tests.reliability.clients import (
    TELEGRAM,
    WEBCHAT,
    WHATSAPP,
    Store,
    message_update,
    signature,
    twilio_params,
)
from tests.reliability.stack import SplitStack

pytestmark = [pytest.mark.load, pytest.mark.model]

CONVERSATIONS = int(os.environ.get("UNISONO_LOAD_CONVERSATIONS") or 60)
SCRIPTS = {
    "es": ["hola", "¿cuál es su horario de atención?", "¿hacen envíos a Mérida?", "¿qué formas de pago aceptan?",
           "muchas gracias"],
    "en": ["hello", "what are your opening hours?", "do you ship to Monterrey?", "which payment methods do you accept?",
           "thanks a lot"],
}
LATER = ("Recibimos tu mensaje", "We got your message")


@dataclass
class Conversation:
    channel: str
    index: int
    address: str = ""
    language: str = "es"
    sent: list[tuple[str, float]] = field(default_factory=list)  # (provider id, monotonic send time)
    statuses: list[int] = field(default_factory=list)
    web_latencies: list[float] = field(default_factory=list)

    @property
    def script(self) -> list[str]:
        return SCRIPTS[self.language]


async def run_web(client: httpx.AsyncClient, stack: SplitStack, conversation: Conversation) -> None:
    answer = await client.post(stack.url(WEBCHAT + "/session"), json={})
    conversation.statuses.append(answer.status_code)
    token = answer.json()["token"]
    conversation.address = token.rsplit(".", 2)[0]  # <session id>.<issued at>.<MAC>
    for k, text in enumerate(conversation.script):
        started = time.monotonic()
        client_id = f"load-{conversation.index}-{k}"
        answer = await client.post(stack.url(WEBCHAT + "/webhook"), json={"text": text, "client_id": client_id},
                                   headers={"Authorization": f"Bearer {token}"})
        conversation.web_latencies.append(time.monotonic() - started)
        conversation.statuses.append(answer.status_code)
        conversation.sent.append((f"{conversation.address}:{client_id}", started))


async def run_whatsapp(client: httpx.AsyncClient, stack: SplitStack, conversation: Conversation) -> None:
    conversation.address = "+5215" + str(uuid.uuid4().int)[:9]
    for text in conversation.script:
        params = twilio_params(conversation.address, text)
        started = time.monotonic()
        answer = await client.post(stack.url(WHATSAPP), data=params,
                                   headers={"X-Twilio-Signature": signature(WHATSAPP, params)})
        conversation.statuses.append(answer.status_code)
        conversation.sent.append((params["MessageSid"], started))


async def run_telegram(client: httpx.AsyncClient, stack: SplitStack, conversation: Conversation) -> None:
    chat = 100_000_000 + int(uuid.uuid4().int % 899_999_999)
    conversation.address = str(chat)
    for text in conversation.script:
        update = message_update(chat, text)
        started = time.monotonic()
        answer = await client.post(stack.url(TELEGRAM), json=update,
                                   headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})
        conversation.statuses.append(answer.status_code)
        conversation.sent.append((str(update["update_id"]), started))


async def drive(stack: SplitStack, conversations: list[Conversation]) -> None:
    runners = {"webchat": run_web, "whatsapp": run_whatsapp, "telegram": run_telegram}
    limits = httpx.Limits(max_connections=len(conversations) + 10, max_keepalive_connections=len(conversations))
    async with httpx.AsyncClient(timeout=600, limits=limits, trust_env=False) as client:

        async def one(conversation: Conversation) -> None:
            await asyncio.sleep(3.0 * conversation.index / len(conversations))  # all begin within 3 s
            await runners[conversation.channel](client, stack, conversation)

        await asyncio.gather(*(one(c) for c in conversations))


def provider_arrivals(fakes: Any) -> dict[str, float]:
    """Provider message id -> when the fake provider received it (monotonic, this process)."""
    arrivals: dict[str, float] = {}
    for call in fakes.twilio.sent:
        arrivals[call.result["sid"]] = call.at
    for call in fakes.telegram.sent:
        arrivals[f"{call.result['chat']['id']}:{call.result['message_id']}"] = call.at
    return arrivals


def dialogue(store: Store, conversation_id: str) -> list[tuple[str, list[str]]]:
    """Rasa's record of the conversation: (user message id, [bot texts that followed it])."""
    turns: list[tuple[str, list[str]]] = []
    for event in store.tracker_events(conversation_id):
        if event.get("event") == "user":
            turns.append((str(event.get("message_id")), []))
        elif event.get("event") == "bot" and turns:
            turns[-1][1].append(event.get("text") or "")
    return turns


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def test_concurrent_conversations_are_all_answered_once_and_in_order(stack: SplitStack, fakes) -> None:
    store = Store(stack.database_url)
    channels = ["webchat", "telegram", "whatsapp"]
    conversations = [Conversation(channels[i % 3], i, language="es" if i % 2 == 0 else "en") for i in range(CONVERSATIONS)]
    started = time.monotonic()
    asyncio.run(drive(stack, conversations))
    sent_all = time.monotonic()
    expected = 5 * len(conversations)

    def settled() -> Optional[list]:
        rows = [store.messages_of(c.channel, c.address) for c in conversations]
        inbound = [m for r in rows for m in r if m.direction == "in"]
        outbound = [m for r in rows for m in r if m.direction == "out"]
        if len(inbound) < expected or any(m.delivery_status == "received" for m in inbound):
            return None
        if any(m.delivery_status == "pending" for m in outbound):
            return None
        answered = {(m.conversation_id) for m in outbound}
        return rows if len(answered) == len(conversations) else None

    rows = wait_until(settled, 120 + 3 * expected, f"{expected} messages processed and answered")
    arrivals = provider_arrivals(fakes)
    finished = max(
        [max((arrivals.get(m.provider_message_id or "", 0.0) for r in rows for m in r if m.direction == "out"), default=0.0),
         sent_all]
    )

    latencies: list[float] = []
    problems: list[str] = []
    for conversation, messages in zip(conversations, rows):
        where = f"{conversation.channel} #{conversation.index}"
        if any(status >= 500 for status in conversation.statuses) or any(s != 200 for s in conversation.statuses):
            problems.append(f"{where}: HTTP {conversation.statuses}")
        inbound = [m for m in messages if m.direction == "in"]
        outbound = [m for m in messages if m.direction == "out"]
        if [m.text for m in inbound] != conversation.script:
            problems.append(f"{where}: stored {[m.text for m in inbound]}")
            continue
        if sorted(m.provider_message_id for m in inbound) != sorted(pid for pid, _ in conversation.sent):
            problems.append(f"{where}: provider ids differ")
        if any(m.delivery_status != "processed" for m in inbound):
            problems.append(f"{where}: not processed {[m.delivery_status for m in inbound]}")
        if any(m.delivery_status != "sent" for m in outbound) or any(t in (m.text or "") for m in outbound for t in LATER):
            problems.append(f"{where}: replies {[(m.delivery_status, (m.text or '')[:30]) for m in outbound]}")
        turns = dialogue(store, inbound[0].conversation_id)
        if [t[0] for t in turns] != [str(m.id) for m in inbound] or any(not bots for _, bots in turns):
            problems.append(f"{where}: dialogue {[(i, len(b)) for i, b in turns]} for messages {[m.id for m in inbound]}")
            continue
        if [text for _, bots in turns for text in bots] != [m.text for m in outbound]:
            problems.append(f"{where}: stored replies differ from the dialogue's")
            continue
        # Replies in the order of the messages, each message's replies after it: ids interleave.
        groups, position = [], 0
        for _, bots in turns:
            groups.append(outbound[position:position + len(bots)])
            position += len(bots)
        for k, group in enumerate(groups):
            if not all(m.id > inbound[k].id for m in group):
                problems.append(f"{where}: a reply to message {k + 1} was stored before it")
        if conversation.channel == "webchat":
            latencies += conversation.web_latencies
            continue
        delivered = [arrivals.get(m.provider_message_id or "") for m in outbound]
        if None in delivered:
            problems.append(f"{where}: a reply the provider never received")
            continue
        if delivered != sorted(delivered):
            problems.append(f"{where}: the provider received replies out of order")
        for k, group in enumerate(groups):
            latencies.append(max(arrivals[m.provider_message_id] for m in group) - conversation.sent[k][1])

    wall = finished - started
    figures = {
        "conversations": len(conversations),
        "messages": expected,
        "wall_s": round(wall, 1),
        "msgs_per_s": round(expected / wall, 2),
        "latency_p50_s": round(statistics.median(latencies), 2) if latencies else None,
        "latency_p95_s": round(percentile(latencies, 0.95), 2) if latencies else None,
        "latency_max_s": round(max(latencies), 2) if latencies else None,
        "messages_lost": expected - sum(1 for r in rows for m in r if m.direction == "in"),
        "problems": len(problems),
    }
    print("\nLOAD " + json.dumps(figures))
    assert not problems, "\n".join(problems[:20])
    assert figures["messages_lost"] == 0
