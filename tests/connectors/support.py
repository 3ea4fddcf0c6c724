"""What the channel tests share: settings of the fake providers, the restartable stack, and
helpers that read the store the way an operator would."""
from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any, Callable, Optional

import httpx
from sqlalchemy import select

from bot.db import session_scope
from bot.store.models import ChannelIdentity, Contact, Conversation, Message
from bot.store.normalize import canonical_phone

PUBLIC_URL = "https://bot.example.test"
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "test-twilio-auth-token"
BUSINESS_NUMBER = "+14155238886"
TELEGRAM_TOKEN = "123456:TEST-telegram-token"
TELEGRAM_SECRET = "test-telegram-secret_42"

# Every channel variable, empty: a developer's .env must not switch a channel on in tests.
CHANNEL_VARIABLES_OFF = {
    name: ""
    for name in (
        "PUBLIC_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_NUMBER", "TWILIO_API_BASE_URL",
        "TWILIO_TEMPLATE_CONTENT_SID", "TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_API_BASE_URL",
        "TWILIO_NOTICE_CONTENT_SID", "ORDER_EVENTS_SECRET",
    )
}


class Stack:
    """The real assistant (action server + `rasa run` with credentials.yml), restartable."""

    def __init__(self, start: Callable[..., Any], database_url: str, env: dict[str, str], name: str) -> None:
        self._start, self.database_url, self.env, self.name = start, database_url, env, name
        self.server: Any = None
        self._stop: Optional[Callable[[], None]] = None
        self.client = httpx.Client(timeout=30)

    def start(self) -> "Stack":
        self.server, self._stop = self._start(self.database_url, extra_env=self.env, name=self.name)
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def url(self, path: str) -> str:
        return self.server.url(path)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.post(self.url(path), **kwargs)

    def log(self) -> str:
        return Path(self.server.log_path).read_text(errors="replace")


def random_mobile() -> str:
    """A Mexican WhatsApp number nobody else in the test session uses."""
    return "+5215" + "".join(random.choice("0123456789") for _ in range(9))


# -- reading the store -----------------------------------------------------------------------------
def messages_of(channel: str, address: str) -> list[Message]:
    """Every message of the contact behind (channel, address), oldest first."""
    with session_scope() as session:
        return list(
            session.execute(
                select(Message)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .join(ChannelIdentity, ChannelIdentity.contact_id == Conversation.contact_id)
                .where(ChannelIdentity.channel == channel, ChannelIdentity.address == address)
                .order_by(Message.id)
            ).scalars()
        )


def inbound_with(channel: str, provider_message_id: str) -> list[Message]:
    with session_scope() as session:
        return list(
            session.execute(
                select(Message).where(Message.channel == channel, Message.provider_message_id == provider_message_id)
            ).scalars()
        )


def count_messages() -> int:
    with session_scope() as session:
        return len(session.execute(select(Message.id)).all())


def wait_until(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def fresh_start(phone: str) -> None:
    """Closes the open conversations of the contact with this phone: the next message starts anew
    (other test modules share the session's database and may have left a dialogue half-way)."""
    with session_scope() as session:
        contact = session.execute(select(Contact).where(Contact.phone == canonical_phone(phone))).scalar_one_or_none()
        if contact is None:
            return
        for conversation in session.execute(
            select(Conversation).where(Conversation.contact_id == contact.id, Conversation.status != "closed")
        ).scalars():
            conversation.status = "closed"


# -- the web chat's handlers in this process (no server, no model) ---------------------------------
class FakeRequest:
    """What the web chat's handlers read of a Sanic request: body, headers, query, peer address."""

    def __init__(self, body: Any = None, headers: Optional[list[tuple[str, str]]] = None,
                 ip: str = "192.0.2.10", args: Optional[dict[str, str]] = None) -> None:
        from sanic.compat import Header

        self.body = body if isinstance(body, bytes) else json.dumps(body if body is not None else {}).encode()
        self.headers = Header(headers or [])
        self.ip = ip
        self.args = args or {}


class StubHub:
    """Takes every message as a client's retry (already stored): the handler answers at once."""

    def __init__(self) -> None:
        self.accepted: list[Any] = []

    async def accept(self, inbound: Any) -> None:
        self.accepted.append(inbound)
        return None


def bearer(token: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {token}")]


def answer_json(answer: Any) -> dict:
    return json.loads(answer.body)
