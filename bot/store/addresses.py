"""What the store knows about one address on one channel, for the connectors that serve it.

Connectors keep no SQL: a WhatsApp number, a Telegram chat or a web session asks here for its
conversation, when it last wrote, which button payloads we offered it, and records what the
provider says became of a message we sent. Channel names are passed in by the connector; the
core knows no provider. Every lookup starts from the one identity ⋈ conversation join below.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import func, select
from sqlalchemy.sql import Select

from bot.db import session_scope
from bot.store.models import ChannelIdentity, Conversation, Message

# Delivery statuses in the order they happen: a late callback never moves a message back.
_PROGRESS = {"pending": 0, "sent": 1, "delivered": 2, "read": 3}


def _of_address(query: Select, channel: str, address: str) -> Select:
    """`query` (over conversations, or messages joined to them) narrowed to one channel address."""
    return query.join(ChannelIdentity, ChannelIdentity.contact_id == Conversation.contact_id).where(
        ChannelIdentity.channel == channel, ChannelIdentity.address == address
    )


def _messages_of_address(query: Select, channel: str, address: str) -> Select:
    """`query` over messages, narrowed to those `address` exchanged on `channel`."""
    joined = query.join(Conversation, Conversation.id == Message.conversation_id)
    return _of_address(joined, channel, address).where(Message.channel == channel)


def conversation_of(channel: str, address: str) -> Optional[str]:
    """The id of the latest conversation of the contact behind (channel, address), if any."""
    with session_scope() as session:
        return session.execute(
            _of_address(select(Conversation.id), channel, address).order_by(Conversation.created_at.desc()).limit(1)
        ).scalar_one_or_none()


def last_inbound_at(channel: str, address: str) -> Optional[dt.datetime]:
    """When the person behind `address` last wrote to us on `channel` (WhatsApp's 24-hour window)."""
    with session_scope() as session:
        return session.execute(
            _messages_of_address(select(func.max(Message.created_at)), channel, address).where(Message.direction == "in")
        ).scalar_one_or_none()


def offered_payloads(channel: str, address: str, limit: int = 50) -> list[str]:
    """The button payloads of our last `limit` replies to `address` on `channel`, newest first.

    A channel that cannot carry a long payload (Telegram's 64-byte callback data) sends a
    digest of it and finds the full payload again here.
    """
    with session_scope() as session:
        rows = session.execute(
            _messages_of_address(select(Message.payload), channel, address)
            .where(Message.direction == "out")
            .order_by(Message.id.desc())
            .limit(limit)
        ).scalars()
        return [str(b.get("payload", "")) for payload in rows for b in (payload or {}).get("buttons") or ()]


def record_delivery(channel: str, provider_message_id: str, status: Optional[str], error: Optional[str] = None) -> bool:
    """Applies a provider's report on a message we sent; False when no such message is ours.

    `status` is one of sent, delivered, read or failed (None: still on its way, nothing to
    record). Reports may arrive out of order, so a status never moves back (read stays read)
    and a failure after delivery is ignored.
    """
    with session_scope() as session:
        message = session.execute(
            select(Message).where(
                Message.channel == channel,
                Message.provider_message_id == provider_message_id,
                Message.direction == "out",
            )
        ).scalar_one_or_none()
        if message is None:
            return False
        current = message.delivery_status
        if status == "failed":
            if current not in ("delivered", "read"):
                message.delivery_status = "failed"
                message.error = error
        elif status is not None and _PROGRESS.get(status, 0) > _PROGRESS.get(current, 99):
            message.delivery_status = status
        return True
