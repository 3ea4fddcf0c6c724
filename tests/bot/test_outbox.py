"""bot/outbox.py on its own: a fake sender, the session's database, no provider and no Rasa.

The channels' tests (tests/connectors) show the outbox against each provider's fake; these pin
what every channel relies on: stored before sent, retried with backoff until sent, a final
failure recorded with its reason, one attempt at a time, and what a restart finds still due.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Optional

import pytest
from sqlalchemy import update

from bot import conversations
from bot.db import session_scope, utcnow
from bot.messages import Inbound, Outbound
from bot.outbox import BASE_DELAY, MAX_ATTEMPTS, MAX_DELAY, Outbox, SendError, backoff
from bot.store.models import Job, Message

CHANNEL = "webchat"


class FakeSender:
    """Fails with the queued errors first, then sends; records every attempt."""

    channel = CHANNEL

    def __init__(self, *failures: BaseException, gate: Optional[asyncio.Event] = None) -> None:
        self.failures = list(failures)
        self.gate = gate
        self.attempts: list[tuple[str, str, int]] = []

    async def send(self, address: str, outbound: Outbound, message_id: int) -> Optional[str]:
        self.attempts.append((address, outbound.text, message_id))
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            raise self.failures.pop(0)
        return f"provider-{message_id}"


@pytest.fixture
def conversation_id(database_url: str) -> str:
    """A fresh web chat conversation (its address is the session id)."""
    inbound = Inbound(channel=CHANNEL, address=f"w{uuid.uuid4().hex}", text="hola")
    return conversations.resolve(inbound).conversation_id


def stored(message_id: int) -> Message:
    with session_scope() as session:
        return session.get(Message, message_id)


def test_backoff_doubles_from_one_second_up_to_five_minutes_and_honours_retry_after() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4)] == [BASE_DELAY, 2 * BASE_DELAY, 4 * BASE_DELAY, 8 * BASE_DELAY]
    assert backoff(30) == MAX_DELAY
    assert backoff(1, retry_after=7.5) == 7.5  # the provider's Retry-After wins
    assert backoff(1, retry_after=-3) == 0.0 and backoff(1, retry_after=10_000) == MAX_DELAY


async def test_a_reply_is_stored_pending_before_it_is_sent_then_marked_sent(conversation_id: str) -> None:
    sender = FakeSender()
    outbox = Outbox({CHANNEL: sender})
    pending = outbox.enqueue(conversation_id, CHANNEL, Outbound("Hola 👋"))
    assert stored(pending.id).delivery_status == "pending" and pending.address  # in the store first
    assert await outbox.deliver(pending) == "sent"
    message = stored(pending.id)
    assert (message.delivery_status, message.attempts, message.error) == ("sent", 1, None)
    assert message.provider_message_id == f"provider-{pending.id}" and message.sent_at is not None
    assert sender.attempts == [(pending.address, "Hola 👋", pending.id)]


async def test_a_passing_failure_is_retried_later_with_its_reason_kept(conversation_id: str) -> None:
    outbox = Outbox({CHANNEL: FakeSender(SendError("HTTP 503", retry_after=30), RuntimeError("connection reset"))})
    pending = outbox.enqueue(conversation_id, CHANNEL, Outbound("¿Sigues ahí?"))
    before = utcnow()
    assert await outbox.deliver(pending) == "pending"
    message = stored(pending.id)
    assert (message.delivery_status, message.attempts, message.error) == ("pending", 1, "HTTP 503")
    assert message.next_attempt_at - before >= dt.timedelta(seconds=29)  # Retry-After: 30
    assert pending.id not in outbox.due()  # not due before its time
    # An unexpected exception from a sender is a passing failure too.
    assert await outbox.deliver(pending.id) == "pending"
    assert stored(pending.id).error == "RuntimeError: connection reset" and stored(pending.id).attempts == 2
    assert await outbox.deliver(pending.id) == "sent"
    assert stored(pending.id).attempts == 3


async def test_a_final_failure_is_recorded_with_its_reason_and_never_retried(conversation_id: str) -> None:
    refused = SendError("outside the 24-hour window", retryable=False)
    refused.status = "refused"  # what a sender may say instead of plain "failed"
    sender = FakeSender(refused)
    outbox = Outbox({CHANNEL: sender})
    pending = outbox.enqueue(conversation_id, CHANNEL, Outbound("Tu pedido llegó"))
    assert await outbox.deliver(pending) == "refused"
    assert (stored(pending.id).delivery_status, stored(pending.id).error) == ("refused", "outside the 24-hour window")
    assert await outbox.deliver(pending.id) == "done"  # no longer pending: never sent again
    assert len(sender.attempts) == 1


async def test_a_reply_that_keeps_failing_is_marked_failed_after_the_last_attempt(conversation_id: str) -> None:
    outbox = Outbox({CHANNEL: FakeSender(*[SendError("HTTP 500") for _ in range(MAX_ATTEMPTS)])})
    pending = outbox.enqueue(conversation_id, CHANNEL, Outbound("hola"))
    statuses = [await outbox.deliver(pending.id) for _ in range(MAX_ATTEMPTS)]
    assert statuses == ["pending"] * (MAX_ATTEMPTS - 1) + ["failed"]
    assert (stored(pending.id).delivery_status, stored(pending.id).attempts) == ("failed", MAX_ATTEMPTS)


async def test_a_channel_without_sender_fails_the_reply_with_the_reason(conversation_id: str) -> None:
    outbox = Outbox({})
    pending = outbox.enqueue(conversation_id, CHANNEL, Outbound("hola"))
    assert await outbox.deliver(pending) == "failed"
    assert stored(pending.id).error == f"channel {CHANNEL} is not configured"


async def test_a_message_is_attempted_once_at_a_time(conversation_id: str) -> None:
    gate = asyncio.Event()
    sender = FakeSender(gate=gate)
    outbox = Outbox({CHANNEL: sender})
    pending = outbox.enqueue(conversation_id, CHANNEL, Outbound("hola"))
    first = asyncio.ensure_future(outbox.deliver(pending))
    while not sender.attempts:  # the first attempt is inside the sender
        await asyncio.sleep(0)
    assert await outbox.deliver(pending.id) == "pending"  # a retry pass meanwhile does not send it again
    gate.set()
    assert await first == "sent" and len(sender.attempts) == 1


async def test_what_is_due_after_a_restart_is_sent_by_one_flush(conversation_id: str) -> None:
    before_restart = Outbox({CHANNEL: FakeSender(SendError("HTTP 502"))})
    pending = before_restart.enqueue(conversation_id, CHANNEL, Outbound("hola"))
    assert await before_restart.deliver(pending) == "pending"
    with session_scope() as session:  # its backoff has run out while the server was down
        session.execute(update(Job).where(Job.kind == "deliver", Job.ref == str(pending.id)).values(due_at=utcnow()))
    sender = FakeSender()
    after_restart = Outbox({CHANNEL: sender})
    assert pending.id in after_restart.due()
    await after_restart.flush()  # (it also tries whatever else the shared database has due)
    assert stored(pending.id).delivery_status == "sent"
    assert [message_id for _, _, message_id in sender.attempts].count(pending.id) == 1
