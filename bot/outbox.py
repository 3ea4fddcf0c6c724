"""The durable outbox: every reply is in the store before it is sent, and is sent until it goes.

A send that fails for a passing reason (5xx, 429, timeout, connection refused) is retried with
exponential backoff, honouring Retry-After; a restart picks up whatever is still pending. A
message that cannot be sent is marked `failed` with the reason, never silently dropped.

Sending is a `deliver` job (bot/jobs.py): claimed at birth by the replica that stored the reply,
taken over by another when that one dies, never sent by two at once. The parts of a split reply
already sent are stored (`sent_parts`), so a retry or a restart never sends them again.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, replace
from typing import Callable, Optional, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot import conversations, db, jobs
from bot.conversations import DELIVER_JOB
from bot.db import session_scope, utcnow
from bot.messages import Outbound
from bot.store import cycles
from bot.store.models import ChannelIdentity, Conversation, Message

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_DELAY = 1.0
MAX_DELAY = 300.0


class SendError(Exception):
    """A send failed. `retryable` says whether trying again later can help."""

    def __init__(self, reason: str, retryable: bool = True, retry_after: Optional[float] = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


class Sender(Protocol):
    """The outbound half of a connector."""

    channel: str

    async def send(self, address: str, outbound: Outbound, message_id: int) -> Optional[str]:
        """Sends one message; returns the provider's message id, raises SendError on failure."""
        ...


@dataclass(frozen=True)
class Pending:
    id: int
    channel: str
    address: Optional[str]
    outbound: Outbound
    attempts: int
    job_id: Optional[int] = None  # its delivery job, when this replica holds it
    conversation_id: Optional[str] = None
    author: str = "bot"


def backoff(attempts: int, retry_after: Optional[float] = None) -> float:
    """Seconds to wait before attempt number `attempts + 1`."""
    if retry_after is not None:
        return min(MAX_DELAY, max(0.0, retry_after))
    return min(MAX_DELAY, BASE_DELAY * (2 ** max(0, attempts - 1)))


def _address(session, conversation_id: str, channel: str) -> Optional[str]:
    return session.execute(
        select(ChannelIdentity.address)
        .join(Conversation, Conversation.contact_id == ChannelIdentity.contact_id)
        .where(Conversation.id == conversation_id, ChannelIdentity.channel == channel)
        .order_by(ChannelIdentity.last_seen_at.desc())
        .limit(1)
    ).scalar_one_or_none()


class Outbox:
    def __init__(self, senders: dict[str, Sender], scheduler: Optional[jobs.Scheduler] = None) -> None:
        self.senders = senders
        self.scheduler = scheduler or jobs.Scheduler()
        self.scheduler.handle(DELIVER_JOB, self._deliver_job)

    @property
    def owner(self) -> str:
        return self.scheduler.owner

    def _load(self, message_id: int) -> Optional[Pending]:
        with session_scope() as session:
            message = session.get(Message, message_id)
            if message is None or message.delivery_status != "pending":
                return None
            return Pending(
                id=message.id,
                channel=message.channel,
                address=_address(session, message.conversation_id, message.channel),
                outbound=Outbound.from_json(message.payload, message.text or ""),
                attempts=message.attempts,
                conversation_id=message.conversation_id,
                author=message.author,
            )

    def _mark(self, message_id: int, again_at: Optional[dt.datetime] = None, **values) -> None:
        """Records an attempt and settles its job in one transaction: done, or due again at `again_at`."""
        with session_scope() as session:
            if values:
                session.execute(update(Message).where(Message.id == message_id).values(**values))
            jobs.settle(session, DELIVER_JOB, str(message_id), again_at, values.get("error"))

    def enqueue(self, conversation_id: str, channel: str, outbound: Outbound, author: str = "bot",
                reply_to: Optional[int] = None, token: Optional[int] = None) -> Pending:
        """Stores a reply as pending, with its delivery job claimed by this replica, and finds its
        address, in one transaction; deliver() sends it. `token`: the fencing token of the turn
        that produced it (refused when a newer turn holds the conversation)."""
        with session_scope() as session:
            conversations.fence(session, conversation_id, token)
            message_id, job_id = conversations.add_reply(session, conversation_id, channel, outbound, author,
                                                         reply_to=reply_to, owner=self.owner)
            address = _address(session, conversation_id, channel)
        return Pending(id=message_id, channel=channel, address=address, outbound=outbound, attempts=0, job_id=job_id,
                       conversation_id=conversation_id, author=author)

    def enqueue_all(self, conversation_id: str, channel: str, outbounds: list[Outbound], token: Optional[int] = None,
                    settle: Optional[Callable[[Session, list[int]], None]] = None) -> list[Pending]:
        """The replies of a turn the bot started (bot/hub.py speak_first), stored as one: with their
        delivery jobs (claimed by this replica) and `settle(session, ids)`, the caller's record of
        the turn, in one transaction. Nothing is stored when `settle` raises."""
        with session_scope() as session:
            conversations.fence(session, conversation_id, token)
            stored = [conversations.add_reply(session, conversation_id, channel, outbound, owner=self.owner)
                      for outbound in outbounds]
            if settle is not None:
                settle(session, [message_id for message_id, _job in stored])
            address = _address(session, conversation_id, channel)
        return [Pending(id=message_id, channel=channel, address=address, outbound=outbound, attempts=0, job_id=job_id)
                for (message_id, job_id), outbound in zip(stored, outbounds)]

    async def deliver(self, message: "int | Pending") -> str:
        """One attempt at sending a pending message; returns its delivery status afterwards.

        Given what enqueue() just stored (its job is ours from birth), nothing is read back; given
        an id, its job is claimed first ("pending" when another attempt holds it), and the message
        is skipped ("done") unless it is still pending.
        """
        if isinstance(message, Pending):
            return await self._attempt(message)
        pending = await db.call(self._load, message)
        if pending is None:
            await db.call(self._mark, message)  # settles a leftover job
            return "done"
        job = await db.call(jobs.take, DELIVER_JOB, str(message), self.owner)
        if job is None or job.id in self.scheduler.held:
            return "pending"  # another attempt (here or on another replica) holds it
        return await self._attempt(replace(pending, job_id=job.id))

    async def _deliver_job(self, job: jobs.Job) -> None:
        pending = await db.call(self._load, int(job.ref or 0))
        if pending is None:
            await db.call(self._mark, int(job.ref or 0))
            return
        await self._attempt(replace(pending, job_id=job.id))

    async def _attempt(self, pending: Pending) -> str:
        message_id = pending.id
        sender = self.senders.get(pending.channel)
        if sender is None or pending.address is None:
            reason = f"channel {pending.channel} is not configured" if sender is None else "no address"
            logger.error("message %s failed: %s", message_id, reason)
            await db.call(self._mark, message_id, delivery_status="failed", error=reason)
            return "failed"
        attempts = pending.attempts + 1
        self.scheduler.hold(pending.job_id)
        try:
            provider_id = await sender.send(pending.address, pending.outbound, message_id)
        except Exception as failure:  # noqa: BLE001 - an unexpected error is a passing one until proven otherwise
            return await self._failed(pending, failure, attempts)
        finally:
            self.scheduler.let_go(pending.job_id)
        await db.call(mark_sent, pending, provider_id, attempts)
        return "sent"

    async def _failed(self, pending: Pending, failure: Exception, attempts: int) -> str:
        message_id = pending.id
        error = failure if isinstance(failure, SendError) else SendError(f"{type(failure).__name__}: {failure}")
        if not isinstance(failure, SendError):
            logger.exception("message %s: unexpected error from the %s sender", message_id, pending.channel)
        if not error.retryable or attempts >= MAX_ATTEMPTS:
            status = getattr(error, "status", None) or "failed"
            logger.error("message %s %s after %d attempts: %s", message_id, status, attempts, error.reason)
            await db.call(self._mark, message_id, delivery_status=status, error=error.reason, attempts=attempts)
            return status
        delay = backoff(attempts, error.retry_after)
        logger.warning("message %s: %s; retry in %.1f s", message_id, error.reason, delay)
        again_at = utcnow() + dt.timedelta(seconds=delay)
        await db.call(self._mark, message_id, again_at, attempts=attempts, error=error.reason, next_attempt_at=again_at)
        return "pending"

    def due(self, limit: int = 100) -> list[int]:
        """Pending messages whose next attempt is due (all of them after a restart) and unclaimed."""
        return [int(ref) for ref in jobs.due_refs(DELIVER_JOB, limit)]

    async def flush(self) -> None:
        """Tries every due message once, in order (the scheduler does this on its own once started)."""
        await self.scheduler.run_due([DELIVER_JOB])

    def start(self) -> None:
        """Starts claiming due work on the running event loop (idempotent)."""
        self.scheduler.start()


def mark_sent(pending: Pending, provider_id: Optional[str], attempts: int, at: Optional[dt.datetime] = None) -> None:
    """The provider took the message at `at` (default now): recorded, its job done, and a first
    response of the bot (in its session) or of an agent (in the hand-off) noted, in one transaction."""
    at = at or utcnow()
    with session_scope() as session:
        session.execute(update(Message).where(Message.id == pending.id).values(
            delivery_status="sent", provider_message_id=provider_id, attempts=attempts, sent_at=at, error=None))
        jobs.settle(session, DELIVER_JOB, str(pending.id))
        if pending.conversation_id and pending.author == "bot":
            cycles.bot_reply_sent(session, pending.conversation_id, at)
        elif pending.conversation_id and pending.author == "agent":
            cycles.agent_reply_sent(session, pending.conversation_id, at)


def sent_parts(message_id: int) -> list[str]:
    """Provider ids of the parts of a split reply already sent (a sender skips them on a retry)."""
    with session_scope() as session:
        return list(session.scalar(select(Message.sent_parts).where(Message.id == message_id)) or [])


def record_part(message_id: int, provider_id: str) -> None:
    """One more part of a split reply is sent: stored before the next part goes."""
    with session_scope() as session:
        message = session.get(Message, message_id)
        if message is not None:
            message.sent_parts = [*(message.sent_parts or []), provider_id]
