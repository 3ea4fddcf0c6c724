"""How the reliability tests talk to the stack (as each provider would) and read its store.

The request builders of the channel tests are reused (Twilio's form and signature, Telegram's
update shapes, Slack's signing); the store readers here take the stack's own database URL.
"""
from __future__ import annotations

import json
import uuid
from typing import Any, Optional

import httpx
from sqlalchemy import MetaData, Table, inspect, select

from bot.db import get_engine, session_scope
from bot.store.desk import DeskThread
from bot.store.models import ChannelIdentity, Contact, Conversation, Message
from bot.store.normalize import canonical_phone
from tests.connectors.support import TELEGRAM_SECRET, wait_until
from tests.connectors.test_telegram import callback_update, message_update, new_chat  # noqa: F401 (re-exported)
from tests.connectors.test_whatsapp import signature, twilio_params  # noqa: F401 (re-exported)
from tests.reliability.stack import SplitStack

ANA_PHONE = "+5215512345678"
ANA_NATIONAL = "5512345678"
ANA_EMAIL = "ana.lopez@example.com"
CARLOS_PHONE = "+523312345678"  # customer 2: PED-10236, PED-10246, PED-10255, TCK-2042
CARLOS_EMAIL = "carlos.hernandez@example.com"
COMPUNET_PHONE = "+528155550101"  # distributor 1
AGENTS = "C0AGENTS01"
SLACK_SECRET = "test-slack-signing-secret"
WEDNESDAY_11AM = "2025-11-26T11:00:00-06:00"
API_TOKEN = "test-rasa-api-token"
IDENTITY_SECRET = b"test-identity-secret"

WHATSAPP = "/webhooks/whatsapp/webhook"
WHATSAPP_STATUS = "/webhooks/whatsapp/status"
TELEGRAM = "/webhooks/telegram/webhook"
WEBCHAT = "/webhooks/webchat"
SLACK = "/webhooks/slack/webhook"


# -- sending ----------------------------------------------------------------------------------------
def whatsapp(stack: SplitStack, number: str, text: str, sid: Optional[str] = None, sign: bool = True,
             client: Optional[httpx.Client] = None, **extra: str) -> tuple[httpx.Response, str]:
    """Twilio's signed incoming-message webhook; returns the answer and the MessageSid."""
    params = twilio_params(number, text, sid=sid, **extra)
    headers = {"X-Twilio-Signature": signature(WHATSAPP, params)} if sign else {}
    answer = (client or stack.client).post(stack.url(WHATSAPP), data=params, headers=headers)
    return answer, params["MessageSid"]


def telegram(stack: SplitStack, chat_id: int, text: str, secret: Optional[str] = TELEGRAM_SECRET,
             client: Optional[httpx.Client] = None, **fields: Any) -> tuple[httpx.Response, str]:
    """Telegram's webhook call for a private-chat message; returns the answer and the update id."""
    update = message_update(chat_id, text, **fields)
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    answer = (client or stack.client).post(stack.url(TELEGRAM), json=update, headers=headers)
    return answer, str(update["update_id"])


def telegram_update(stack: SplitStack, update: dict[str, Any], secret: Optional[str] = TELEGRAM_SECRET) -> httpx.Response:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return stack.post(TELEGRAM, json=update, headers=headers)


class WebChat:
    """One browser session of the web chat widget."""

    def __init__(self, stack: SplitStack, client: Optional[httpx.Client] = None, token: Optional[str] = None) -> None:
        self.stack = stack
        self.client = client or stack.client
        self.token = token or self._new_token()

    def _new_token(self) -> str:
        answer = self.client.post(self.stack.url(WEBCHAT + "/session"), json={})
        assert answer.status_code == 200, answer.text
        return answer.json()["token"]

    @property
    def session_id(self) -> str:
        return self.token.rsplit(".", 2)[0]  # <session id>.<issued at>.<MAC>

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def post(self, text: str, payload: Optional[str] = None, client_id: Optional[str] = None) -> httpx.Response:
        body: dict[str, Any] = {"text": text}
        if payload is not None:
            body["payload"] = payload
        if client_id is not None:
            body["client_id"] = client_id
        return self.client.post(self.stack.url(WEBCHAT + "/webhook"), json=body, headers=self.headers)

    def say(self, text: str, payload: Optional[str] = None) -> list[str]:
        """Sends a message; the texts of the replies (the web chat answers in the same request)."""
        answer = self.post(text, payload, client_id=uuid.uuid4().hex)
        assert answer.status_code == 200, answer.text
        return [reply["text"] for reply in answer.json()["replies"]]


def texts_to(fake: Any, address: Any) -> list[str]:
    """What a fake provider delivered to a WhatsApp number or a Telegram chat, in order."""
    return [c.params.get("Body") or c.params.get("text") or c.params.get("caption") or "" for c in fake.sent_to(address)]


def wait_for_text(fake: Any, address: Any, *needles: str, after: int = 0, timeout: float = 90.0) -> str:
    """The first delivered text (from the `after`-th on) that contains every needle."""
    return fake.wait_for(
        lambda: next((t for t in texts_to(fake, address)[after:] if all(n in t for n in needles)), None),
        timeout,
        f"a message to {address} containing {needles!r}",
    )


# -- reading the store ------------------------------------------------------------------------------
class Store:
    """Reads the stack's database the way an operator would."""

    def __init__(self, url: str) -> None:
        self.url = url

    def messages_of(self, channel: str, address: str) -> list[Message]:
        with session_scope(self.url) as session:
            return list(
                session.execute(
                    select(Message)
                    .join(Conversation, Conversation.id == Message.conversation_id)
                    .join(ChannelIdentity, ChannelIdentity.contact_id == Conversation.contact_id)
                    .where(ChannelIdentity.channel == channel, ChannelIdentity.address == address)
                    .order_by(Message.id)
                ).scalars()
            )

    def conversation_messages(self, conversation_id: str) -> list[Message]:
        with session_scope(self.url) as session:
            return list(session.execute(
                select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
            ).scalars())

    def inbound_with(self, channel: str, provider_message_id: str) -> list[Message]:
        with session_scope(self.url) as session:
            return list(session.execute(
                select(Message).where(Message.channel == channel, Message.provider_message_id == provider_message_id)
            ).scalars())

    def message(self, message_id: int) -> Optional[Message]:
        with session_scope(self.url) as session:
            return session.get(Message, message_id)

    def count(self) -> int:
        with session_scope(self.url) as session:
            return len(session.execute(select(Message.id)).all())

    def last_id(self) -> int:
        with session_scope(self.url) as session:
            return session.execute(select(Message.id).order_by(Message.id.desc()).limit(1)).scalar() or 0

    def since(self, message_id: int) -> list[Message]:
        with session_scope(self.url) as session:
            return list(session.execute(select(Message).where(Message.id > message_id).order_by(Message.id)).scalars())

    def conversation_of(self, channel: str, address: str) -> Optional[Conversation]:
        with session_scope(self.url) as session:
            return session.execute(
                select(Conversation)
                .join(ChannelIdentity, ChannelIdentity.contact_id == Conversation.contact_id)
                .where(ChannelIdentity.channel == channel, ChannelIdentity.address == address)
                .order_by(Conversation.created_at.desc())
                .limit(1)
            ).scalar_one_or_none()

    def thread_of(self, channel: str, address: str) -> Optional[str]:
        """The desk thread (Slack ts) of the latest conversation of (channel, address), if any."""
        with session_scope(self.url) as session:
            return session.execute(
                select(DeskThread.thread_ts)
                .join(Conversation, Conversation.id == DeskThread.conversation_id)
                .join(ChannelIdentity, ChannelIdentity.contact_id == Conversation.contact_id)
                .where(ChannelIdentity.channel == channel, ChannelIdentity.address == address)
                .order_by(Conversation.created_at.desc())
                .limit(1)
            ).scalar_one_or_none()

    def contact_of(self, channel: str, address: str) -> Optional[Contact]:
        with session_scope(self.url) as session:
            return session.execute(
                select(Contact)
                .join(ChannelIdentity, ChannelIdentity.contact_id == Contact.id)
                .where(ChannelIdentity.channel == channel, ChannelIdentity.address == address)
            ).scalar_one_or_none()

    def close_conversations_of_phone(self, phone: str) -> None:
        """The next message of this person starts afresh (another test may have left a form open)."""
        with session_scope(self.url) as session:
            contact = session.execute(select(Contact).where(Contact.phone == canonical_phone(phone))).scalar_one_or_none()
            if contact is None:
                return
            for conversation in session.execute(
                select(Conversation).where(Conversation.contact_id == contact.id, Conversation.status != "closed")
            ).scalars():
                conversation.status = "closed"

    def tracker_events(self, conversation_id: str) -> list[dict[str, Any]]:
        """Rasa's events of a conversation (its SQL tracker store's `events` table), oldest first."""
        engine = get_engine(self.url)
        if not inspect(engine).has_table("events"):
            return []
        table = Table("events", MetaData(), autoload_with=engine)
        with engine.connect() as connection:
            rows = connection.execute(
                select(table.c.data).where(table.c.sender_id == conversation_id).order_by(table.c.id)
            ).scalars()
            return [json.loads(row) for row in rows]

    def answered(self, channel: str, address: str, timeout: float = 120.0) -> list[Message]:
        """The replies to (channel, address) once every message from it is processed (or failed)
        and no reply is pending. From then on nothing more is sent (recovery takes only messages
        still `received`, the outbox only `pending` ones), so counts taken afterwards are final."""

        def done() -> Optional[list[Message]]:
            messages = self.messages_of(channel, address)
            inbound = [m for m in messages if m.direction == "in"]
            out = [m for m in messages if m.direction == "out"]
            finished = inbound and all(m.delivery_status != "received" for m in inbound)
            return out if finished and out and all(m.delivery_status != "pending" for m in out) else None

        return wait_until(done, timeout, f"every message of {channel}:{address} processed and answered")

    def settled(self, channel: str, address: str, replies: int = 1, timeout: float = 120.0) -> list[Message]:
        """The replies to (channel, address) once at least `replies` exist and none is pending."""

        def done() -> Optional[list[Message]]:
            out = [m for m in self.messages_of(channel, address) if m.direction == "out"]
            return out if len(out) >= replies and all(m.delivery_status != "pending" for m in out) else None

        return wait_until(done, timeout, f"{replies} settled replies to {channel}:{address}")
