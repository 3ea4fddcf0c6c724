"""The store API connectors use (bot/store/addresses.py), on the session's test database."""
from __future__ import annotations

import uuid

from bot import conversations
from bot.db import session_scope
from bot.messages import Button, Inbound, Outbound
from bot.store import addresses
from bot.store.models import Message


def _customer(channel: str, text: str = "hola") -> tuple[str, str]:
    """A new address on `channel` that wrote once: (address, conversation id)."""
    address = uuid.uuid4().hex[:12]
    inbound = Inbound(channel, address, text)
    party = conversations.resolve(inbound)
    conversations.store_inbound(party, inbound, text)
    return address, party.conversation_id


def _sent(conversation_id: str, channel: str, outbound: Outbound, sid: str) -> int:
    message_id = conversations.store_outbound(conversation_id, channel, outbound)
    with session_scope() as session:
        session.get(Message, message_id).provider_message_id = sid
    return message_id


def _status(message_id: int) -> tuple[str, str | None]:
    with session_scope() as session:
        message = session.get(Message, message_id)
        return message.delivery_status, message.error


def test_conversation_and_last_inbound_of_an_address(database_url: str) -> None:
    address, conversation_id = _customer("telegram")
    assert addresses.conversation_of("telegram", address) == conversation_id
    assert addresses.conversation_of("whatsapp", address) is None  # channels are apart
    assert addresses.conversation_of("telegram", "nobody") is None
    assert addresses.last_inbound_at("telegram", address) is not None
    assert addresses.last_inbound_at("webchat", address) is None


def test_offered_payloads_are_the_buttons_we_sent_to_that_address(database_url: str) -> None:
    address, conversation_id = _customer("telegram")
    other, other_conversation = _customer("telegram")
    _sent(conversation_id, "telegram", Outbound("¿Algo más?", buttons=(Button("Sí", "/affirm"), Button("No", "/deny"))), "t:1")
    _sent(other_conversation, "telegram", Outbound("x", buttons=(Button("Otro", "/other"),)), "t:2")
    assert addresses.offered_payloads("telegram", address) == ["/affirm", "/deny"]
    assert addresses.offered_payloads("whatsapp", address) == []


def test_a_delivery_status_never_moves_back_and_a_late_failure_is_ignored(database_url: str) -> None:
    address, conversation_id = _customer("whatsapp")
    sid = "SM" + uuid.uuid4().hex
    message_id = _sent(conversation_id, "whatsapp", Outbound("hola"), sid)
    assert addresses.record_delivery("whatsapp", sid, None)  # still on its way: known, unchanged
    assert _status(message_id) == ("pending", None)
    assert addresses.record_delivery("whatsapp", sid, "read")
    assert addresses.record_delivery("whatsapp", sid, "delivered")  # arrived late
    assert addresses.record_delivery("whatsapp", sid, "failed", "twilio: undelivered")
    assert _status(message_id) == ("read", None)
    assert not addresses.record_delivery("whatsapp", "SM-unknown", "sent")
    assert not addresses.record_delivery("telegram", sid, "sent")  # the sid is WhatsApp's


def test_a_failure_before_delivery_is_recorded_with_its_reason(database_url: str) -> None:
    _, conversation_id = _customer("whatsapp")
    sid = "SM" + uuid.uuid4().hex
    message_id = _sent(conversation_id, "whatsapp", Outbound("hola"), sid)
    assert addresses.record_delivery("whatsapp", sid, "sent")
    assert addresses.record_delivery("whatsapp", sid, "failed", "twilio: failed (error 63016)")
    assert _status(message_id) == ("failed", "twilio: failed (error 63016)")
