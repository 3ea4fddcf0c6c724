"""The web chat channel: a small widget served by the assistant, live over server-sent events.

Routes (under /webhooks/webchat):
  POST /session   a signed session token (new, or the browser's own renewed); optional signed
                  identity of a logged-in user of the company's site
  POST /webhook   one message from the browser (Authorization: Bearer <token>); the answer
                  carries the replies and the conversation's language ("es" | "en" | null)
  GET  /history   the conversation so far, from the store, and its language
  GET  /events    live messages (SSE); `after=<id>` resumes after a reconnect
  GET  /widget.js, /widget.css, /demo   the widget and a demo page
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy import select

from bot import conversations, db, tokens
from bot.db import session_scope
from bot.hub import Hub, get_hub
from bot.messages import Inbound, Outbound
from bot.store.models import ChannelIdentity, Conversation

logger = logging.getLogger(__name__)

CHANNEL = "webchat"
STATIC = Path(__file__).with_name("webchat_static")
MAX_BODY = 16 * 1024
MAX_TEXT = 4096
SESSION_SECRET = "WEBCHAT_SECRET"
IDENTITY_SECRET = "WEBCHAT_IDENTITY_SECRET"
HEARTBEAT_SECONDS = 15.0


class LiveFeed:
    """Fan-out of stored messages to the browsers watching a conversation."""

    def __init__(self) -> None:
        self._queues: defaultdict[str, set[asyncio.Queue]] = defaultdict(set)

    def subscribe(self, conversation_id: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=1000)
        self._queues[conversation_id].add(queue)
        return queue

    def unsubscribe(self, conversation_id: str, queue: asyncio.Queue) -> None:
        self._queues[conversation_id].discard(queue)
        if not self._queues[conversation_id]:
            self._queues.pop(conversation_id, None)

    def publish(self, conversation_id: str, message_id: int) -> None:
        for queue in self._queues.get(conversation_id, ()):
            try:
                queue.put_nowait(message_id)
            except asyncio.QueueFull:
                logger.warning("a web chat viewer fell behind; it will catch up from history")


class WebChatSender:
    """Delivery to the web chat is the store itself: browsers read history and the live feed."""

    channel = CHANNEL

    async def send(self, address: str, outbound: Outbound, message_id: int) -> Optional[str]:
        return None


def _error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)


def _session_of(request: Request) -> Optional[str]:
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else request.args.get("token")
    return tokens.unsign(token, tokens.secret(SESSION_SECRET))


def _conversation_of(session_id: str) -> Optional[str]:
    """The open conversation of the contact behind this browser session, if it has written yet."""
    with session_scope() as session:
        return session.execute(
            select(Conversation.id)
            .join(ChannelIdentity, ChannelIdentity.contact_id == Conversation.contact_id)
            .where(ChannelIdentity.channel == CHANNEL, ChannelIdentity.address == session_id)
            .order_by(Conversation.created_at.desc())
            .limit(1)
        ).scalar_one_or_none()


def _language_of(conversation_id: Optional[str]) -> Optional[str]:
    """The language the assistant speaks in this conversation (None until it knows): the widget
    shows its own words in it."""
    if conversation_id is None:
        return None
    with session_scope() as session:
        return session.execute(
            select(Conversation.language).where(Conversation.id == conversation_id)
        ).scalar_one_or_none()


def _json_body(request: Request) -> Optional[dict]:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


class WebChatInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WebChatInput":
        return cls()

    def __init__(self, hub: Optional[Hub] = None) -> None:
        self.hub = hub or get_hub()
        self.feed = LiveFeed()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hub = self.hub
        hub.attach_rasa(on_new_message)
        hub.register_sender(WebChatSender())
        hub.on_message_stored(self.feed.publish)
        feed = self.feed
        bp = Blueprint("webchat_webhook", __name__)

        @bp.listener("after_server_start")
        async def start_outbox(app: Any, loop: Any) -> None:
            hub.start()

        @bp.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/session", methods=["POST"])
        async def session(request: Request) -> HTTPResponse:
            if len(request.body or b"") > MAX_BODY:
                return _error(413, "request too large")
            body = _json_body(request)
            if body is None:
                return _error(400, "body must be a JSON object")
            key = tokens.secret(SESSION_SECRET)
            identity = body.get("identity")
            if identity is not None:
                return await _signed_session(identity, key)
            if body.get("token"):
                session_id = tokens.unsign(str(body["token"]), key)
                if session_id is None:
                    return _error(401, "invalid token")
                return response.json({"token": body["token"]})
            return response.json({"token": tokens.sign(tokens.new_session_id(), key)})

        async def _signed_session(identity: Any, key: bytes) -> HTTPResponse:
            if not isinstance(identity, dict) or not identity.get("user_id") or not identity.get("signature"):
                return _error(400, "identity needs user_id and signature")
            user_id = str(identity["user_id"])[:128]
            email, name = identity.get("email"), identity.get("name")
            if not all(v is None or isinstance(v, str) for v in (email, name)) or len(email or "") > 254:
                return _error(400, "identity email and name must be strings")
            signed = f"{user_id}|{email}" if email else user_id
            if not tokens.verify_hex(tokens.secret(IDENTITY_SECRET), signed, str(identity["signature"])):
                return _error(401, "invalid identity signature")
            address = f"user:{user_id}"
            try:
                await db.call(
                    conversations.resolve,
                    Inbound(
                        channel=CHANNEL,
                        address=address,
                        text="",
                        display_name=(name or "")[:200] or None,
                        verified_email=email,
                        verified_by="web_hmac",
                    )
                )
            except ValueError:
                return _error(400, "identity email is not an email address")
            return response.json({"token": tokens.sign(address, key)})

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if len(request.body or b"") > MAX_BODY:
                return _error(413, "message too large")
            session_id = _session_of(request)
            if session_id is None:
                return _error(401, "missing or invalid session token")
            body = _json_body(request)
            if body is None:
                return _error(400, "body must be a JSON object")
            text = body.get("text", "")
            payload = body.get("payload")
            if not isinstance(text, str) or (payload is not None and not isinstance(payload, str)):
                return _error(400, "text and payload must be strings")
            if len(text) > MAX_TEXT:
                return _error(413, f"messages are limited to {MAX_TEXT} characters")
            client_id = body.get("client_id")
            inbound = Inbound(
                channel=CHANNEL,
                address=session_id,
                text=text,
                payload=payload[:500] if payload else None,
                provider_message_id=f"{session_id}:{client_id}"[:255] if client_id else None,
            )
            # Reliability fix (tests/reliability/test_faults.py): accept and process apart, so a
            # store that is briefly down is a clear 503 the widget retries (not a bare 500), and a
            # failure after the message is stored is a 202: hub.recover answers it later.
            try:
                accepted = await hub.accept(inbound)
            except Exception as error:  # noqa: BLE001 - nothing was stored: the browser may retry
                logger.error("webchat: could not store a message (%s); answering 503", type(error).__name__)
                return _error(503, "temporarily unable to store the message; please try again")
            if accepted is None:
                return response.json({"status": "duplicate"})
            try:
                receipt = await hub.process(accepted)
            except Exception as error:  # noqa: BLE001 - stored: it is processed again by hub.recover
                logger.error("webchat: message %s stored, processing failed (%s)", accepted.message_id, type(error).__name__)
                return response.json(
                    {"conversation_id": accepted.party.conversation_id, "message_id": accepted.message_id, "replies": []},
                    status=202,
                )
            replies = await db.call(conversations.messages_json, receipt.replies)
            return response.json(
                {"conversation_id": receipt.conversation_id, "message_id": receipt.message_id, "replies": replies,
                 "language": await db.call(_language_of, receipt.conversation_id)}
            )

        @bp.route("/history", methods=["GET"])
        async def history(request: Request) -> HTTPResponse:
            session_id = _session_of(request)
            if session_id is None:
                return _error(401, "missing or invalid session token")
            conversation_id = await db.call(_conversation_of, session_id)
            messages = await db.call(conversations.history, conversation_id) if conversation_id else []
            return response.json({"messages": messages, "language": await db.call(_language_of, conversation_id)})

        @bp.route("/events", methods=["GET"])
        async def events(request: Request) -> HTTPResponse:
            session_id = _session_of(request)
            if session_id is None:
                return _error(401, "missing or invalid session token")
            try:
                after = int(request.args.get("after") or request.headers.get("last-event-id") or 0)
            except ValueError:
                return _error(400, "after must be a message id")
            stream = await request.respond(
                content_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
            conversation_id = await db.call(_conversation_of, session_id)
            queue = feed.subscribe(conversation_id or f"pending:{session_id}")
            try:
                await stream.send(": connected\n\n")
                while True:
                    if conversation_id is None:
                        conversation_id = await db.call(_conversation_of, session_id)
                        if conversation_id is not None:
                            feed.unsubscribe(f"pending:{session_id}", queue)
                            queue = feed.subscribe(conversation_id)
                    if conversation_id is not None:
                        for message in await db.call(conversations.history, conversation_id, after_id=after):
                            after = message["id"]
                            await stream.send(f"id: {after}\nevent: message\ndata: {json.dumps(message)}\n\n")
                    try:
                        await asyncio.wait_for(queue.get(), timeout=1.0 if conversation_id is None else HEARTBEAT_SECONDS)
                    except asyncio.TimeoutError:
                        await stream.send(": ping\n\n")
            except (asyncio.CancelledError, ConnectionError):
                raise
            finally:
                feed.unsubscribe(conversation_id or f"pending:{session_id}", queue)

        @bp.route("/widget.js", methods=["GET"])
        async def widget_js(request: Request) -> HTTPResponse:
            return await response.file(STATIC / "widget.js", mime_type="application/javascript; charset=utf-8")

        @bp.route("/widget.css", methods=["GET"])
        async def widget_css(request: Request) -> HTTPResponse:
            return await response.file(STATIC / "widget.css", mime_type="text/css; charset=utf-8")

        @bp.route("/demo", methods=["GET"])
        async def demo(request: Request) -> HTTPResponse:
            return await response.file(STATIC / "demo.html", mime_type="text/html; charset=utf-8")

        return bp
