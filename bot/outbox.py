"""The durable outbox: every reply is in the store before it is sent, and is sent until it goes.

A send that fails for a passing reason (5xx, 429, timeout, connection refused) is retried with
exponential backoff, honouring Retry-After; a restart picks up whatever is still pending. A
message that cannot be sent is marked `failed` with the reason, never silently dropped.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Optional, Protocol

from sqlalchemy import or_, select, update

from bot import conversations, db
from bot.db import session_scope, utcnow
from bot.messages import Outbound
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
    def __init__(self, senders: dict[str, Sender]) -> None:
        self.senders = senders
        self._inflight: set[int] = set()
        self._task: Optional[asyncio.Task] = None

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
            )

    def _mark(self, message_id: int, **values) -> None:
        with session_scope() as session:
            session.execute(update(Message).where(Message.id == message_id).values(**values))

    def enqueue(self, conversation_id: str, channel: str, outbound: Outbound, author: str = "bot") -> Pending:
        """Stores a reply as pending and finds its address, in one transaction; deliver() sends it."""
        with session_scope() as session:
            message_id = conversations.add_outbound(session, conversation_id, channel, outbound, author)
            address = _address(session, conversation_id, channel)
        return Pending(id=message_id, channel=channel, address=address, outbound=outbound, attempts=0)

    async def deliver(self, message: "int | Pending") -> str:
        """One attempt at sending a pending message; returns its delivery status afterwards.

        Given what enqueue() just stored, nothing is read back; given an id, the message is
        loaded, and skipped unless it is still pending.
        """
        message_id = message.id if isinstance(message, Pending) else message
        if message_id in self._inflight:
            return "pending"
        self._inflight.add(message_id)
        try:
            pending = message if isinstance(message, Pending) else await db.call(self._load, message_id)
            if pending is None:
                return "done"
            sender = self.senders.get(pending.channel)
            if sender is None or pending.address is None:
                reason = f"channel {pending.channel} is not configured" if sender is None else "no address"
                logger.error("message %s failed: %s", message_id, reason)
                await db.call(self._mark, message_id, delivery_status="failed", error=reason)
                return "failed"
            attempts = pending.attempts + 1
            try:
                provider_id = await sender.send(pending.address, pending.outbound, message_id)
            except Exception as failure:  # noqa: BLE001 - an unexpected error is a passing one until proven otherwise
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
                await db.call(
                    self._mark,
                    message_id,
                    attempts=attempts,
                    error=error.reason,
                    next_attempt_at=utcnow() + dt.timedelta(seconds=delay),
                )
                return "pending"
            await db.call(
                self._mark,
                message_id,
                delivery_status="sent",
                provider_message_id=provider_id,
                attempts=attempts,
                sent_at=utcnow(),
                error=None,
            )
            return "sent"
        finally:
            self._inflight.discard(message_id)

    def due(self, limit: int = 100) -> list[int]:
        """Pending messages whose next attempt is due (all of them after a restart)."""
        now = utcnow()
        with session_scope() as session:
            return list(
                session.execute(
                    select(Message.id)
                    .where(
                        Message.delivery_status == "pending",
                        or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now),
                    )
                    .order_by(Message.id)
                    .limit(limit)
                ).scalars()
            )

    async def flush(self) -> None:
        """Tries every due message once, in order."""
        for message_id in await db.call(self.due):
            await self.deliver(message_id)

    async def run_forever(self, interval: float = 0.5) -> None:
        while True:
            try:
                await self.flush()
            except Exception:  # noqa: BLE001 - the retry loop must outlive a bad moment of the database
                logger.exception("outbox pass failed")
            await asyncio.sleep(interval)

    def start(self) -> None:
        """Starts the background retry loop on the running event loop (once)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run_forever())
