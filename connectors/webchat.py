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
from pathlib import Path
from typing import Any, Optional

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import conversations, db, tokens
from bot.hub import Hub
from bot.live import LocalBus, live_bus_from_env
from bot.messages import Inbound, Outbound
from bot.store import addresses
from connectors.base import Channel, json_error

logger = logging.getLogger(__name__)

CHANNEL = "webchat"
STATIC = Path(__file__).with_name("webchat_static")
MAX_BODY = 16 * 1024
MAX_TEXT = 4096
SESSION_SECRET = "WEBCHAT_SECRET"
IDENTITY_SECRET = "WEBCHAT_IDENTITY_SECRET"
HEARTBEAT_SECONDS = 15.0


class WebChatSender:
    """Delivery to the web chat is the store itself: browsers read history and the live feed."""

    channel = CHANNEL

    async def send(self, address: str, outbound: Outbound, message_id: int) -> Optional[str]:
        return None


def _session_of(request: Request) -> Optional[str]:
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else request.args.get("token")
    return tokens.unsign(token, tokens.secret(SESSION_SECRET))


def _conversation_of(session_id: str) -> Optional[str]:
    """The open conversation of the contact behind this browser session, if it has written yet."""
    return addresses.conversation_of(CHANNEL, session_id)


def _json_body(request: Request) -> Optional[dict]:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


class WebChatInput(Channel[bool]):
    """Always on: the widget needs no provider account (its secrets are generated if unset)."""

    channel = CHANNEL

    def __init__(self, hub: Optional[Hub] = None, bus: Optional[LocalBus] = None) -> None:
        """`bus` given (tests) or the process's: Redis pub/sub across replicas when REDIS_URL is set."""
        super().__init__(hub, True)
        self.bus = bus or live_bus_from_env()

    def wire(self) -> None:
        self.hub.register_sender(WebChatSender())
        # Every stored public message, on whichever replica, wakes the streams watching it.
        self.hub.on_message_stored(self.bus.publish)

    async def started(self, app: Any) -> None:
        await super().started(app)
        await self.bus.start()

    async def stopping(self, app: Any) -> None:
        await self.bus.close()

    def routes(self, bp: Blueprint) -> None:
        self.route(bp, "/session", self.session)
        self.route(bp, "/webhook", self.receive)
        self.route(bp, "/history", self.history, "GET")
        self.route(bp, "/events", self.events, "GET")
        for name, mime in (("widget.js", "application/javascript"), ("widget.css", "text/css"), ("demo", "text/html")):
            self.route(bp, "/" + name, _static(STATIC / ("demo.html" if name == "demo" else name), mime), "GET")

    # -- POST /session ------------------------------------------------------------------------
    async def session(self, request: Request) -> HTTPResponse:
        """A signed session token: new, the browser's own renewed, or for a signed-in user."""
        if len(request.body or b"") > MAX_BODY:
            return json_error(413, "request too large")
        body = _json_body(request)
        if body is None:
            return json_error(400, "body must be a JSON object")
        key = tokens.secret(SESSION_SECRET)
        identity = body.get("identity")
        if identity is not None:
            return await _signed_session(identity, key)
        if body.get("token"):
            session_id = tokens.unsign(str(body["token"]), key)
            if session_id is None:
                return json_error(401, "invalid token")
            return response.json({"token": body["token"]})
        return response.json({"token": tokens.sign(tokens.new_session_id(), key)})

    # -- POST /webhook ------------------------------------------------------------------------
    async def receive(self, request: Request) -> HTTPResponse:
        """One message from the browser: stored, processed, answered with the replies."""
        if len(request.body or b"") > MAX_BODY:
            return json_error(413, "message too large")
        session_id = _session_of(request)
        if session_id is None:
            return json_error(401, "missing or invalid session token")
        body = _json_body(request)
        if body is None:
            return json_error(400, "body must be a JSON object")
        inbound = _inbound(session_id, body)
        if isinstance(inbound, HTTPResponse):
            return inbound
        return await self._answer(inbound)

    async def _answer(self, inbound: Inbound) -> HTTPResponse:
        # Reliability fix (tests/reliability/test_faults.py): accept and process apart, so a
        # store that is briefly down is a clear 503 the widget retries (not a bare 500), and a
        # failure after the message is stored is a 202: hub.recover answers it later.
        try:
            accepted = await self.hub.accept(inbound)
        except Exception as error:  # noqa: BLE001 - nothing was stored: the browser may retry
            logger.error("webchat: could not store a message (%s); answering 503", type(error).__name__)
            return json_error(503, "temporarily unable to store the message; please try again")
        if accepted is None:
            return response.json({"status": "duplicate"})
        try:
            receipt = await self.hub.process(accepted)
        except Exception as error:  # noqa: BLE001 - stored: it is processed again by hub.recover
            logger.error("webchat: message %s stored, processing failed (%s)", accepted.message_id, type(error).__name__)
            return response.json(
                {"conversation_id": accepted.party.conversation_id, "message_id": accepted.message_id, "replies": []},
                status=202,
            )
        replies = await db.call(conversations.messages_json, receipt.replies)
        language = await db.call(conversations.language_of, receipt.conversation_id)
        return response.json(
            {"conversation_id": receipt.conversation_id, "message_id": receipt.message_id, "replies": replies,
             "language": language}
        )

    # -- GET /history and /events -------------------------------------------------------------
    async def history(self, request: Request) -> HTTPResponse:
        """The conversation so far, from the store, and its language."""
        session_id = _session_of(request)
        if session_id is None:
            return json_error(401, "missing or invalid session token")
        conversation_id = await db.call(_conversation_of, session_id)
        messages = await db.call(conversations.history, conversation_id) if conversation_id else []
        return response.json({"messages": messages, "language": await db.call(conversations.language_of, conversation_id)})

    async def events(self, request: Request) -> HTTPResponse:
        """Live messages as server-sent events; `after=<id>` resumes after a reconnect."""
        session_id = _session_of(request)
        if session_id is None:
            return json_error(401, "missing or invalid session token")
        try:
            after = int(request.args.get("after") or request.headers.get("last-event-id") or 0)
        except ValueError:
            return json_error(400, "after must be a message id")
        stream = await request.respond(
            content_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        await self._stream(stream, session_id, after)
        return stream  # type: ignore[return-value]

    async def _stream(self, stream: Any, session_id: str, after: int) -> None:
        """Sends stored messages after `after`, then the new ones as the live bus wakes it.

        The store is the source of truth and the bus only says when to read it: a stream resumed
        on another replica (`after` / Last-Event-ID) misses nothing, and a wake-up lost (Redis
        away) only delays a message until the next one or the heartbeat.
        """
        bus = self.bus
        pending = f"pending:{session_id}"
        conversation_id = await db.call(_conversation_of, session_id)
        queue = bus.subscribe(conversation_id or pending)
        try:
            await stream.send(": connected\n\n")
            while True:
                if conversation_id is None:
                    conversation_id = await db.call(_conversation_of, session_id)
                    if conversation_id is not None:  # the first message: follow its conversation
                        bus.unsubscribe(pending, queue)
                        queue = bus.subscribe(conversation_id)
                if conversation_id is not None:
                    for message in await db.call(conversations.history, conversation_id, after_id=after):
                        after = message["id"]
                        await stream.send(f"id: {after}\nevent: message\ndata: {json.dumps(message)}\n\n")
                if not await _woken(queue, 1.0 if conversation_id is None else HEARTBEAT_SECONDS):
                    await stream.send(": ping\n\n")
        finally:
            bus.unsubscribe(conversation_id or pending, queue)


async def _woken(queue: asyncio.Queue, timeout: float) -> bool:
    """Waits for a wake-up and takes the ones queued behind it (one store read serves them all)."""
    try:
        await asyncio.wait_for(queue.get(), timeout=timeout)
    except asyncio.TimeoutError:
        return False
    while not queue.empty():
        queue.get_nowait()
    return True


def _static(path: Path, mime: str) -> Any:
    """A handler serving one file of the widget."""

    async def serve(request: Request) -> HTTPResponse:
        return await response.file(path, mime_type=f"{mime}; charset=utf-8")

    serve.__name__ = path.stem.replace(".", "_") + "_" + path.suffix.lstrip(".")
    return serve


def _inbound(session_id: str, body: dict) -> "Inbound | HTTPResponse":
    """The browser's message as an Inbound, or the 400/413 answer for a body that is not one."""
    text = body.get("text", "")
    payload = body.get("payload")
    if not isinstance(text, str) or (payload is not None and not isinstance(payload, str)):
        return json_error(400, "text and payload must be strings")
    if len(text) > MAX_TEXT:
        return json_error(413, f"messages are limited to {MAX_TEXT} characters")
    client_id = body.get("client_id")
    return Inbound(
        channel=CHANNEL,
        address=session_id,
        text=text,
        payload=payload[:500] if payload else None,
        provider_message_id=f"{session_id}:{client_id}"[:255] if client_id else None,
    )


async def _signed_session(identity: Any, key: bytes) -> HTTPResponse:
    """A session for a user the company's site signed in (HMAC over user_id|email)."""
    if not isinstance(identity, dict) or not identity.get("user_id") or not identity.get("signature"):
        return json_error(400, "identity needs user_id and signature")
    user_id = str(identity["user_id"])[:128]
    email, name = identity.get("email"), identity.get("name")
    if not all(v is None or isinstance(v, str) for v in (email, name)) or len(email or "") > 254:
        return json_error(400, "identity email and name must be strings")
    signed = f"{user_id}|{email}" if email else user_id
    if not tokens.verify_hex(tokens.secret(IDENTITY_SECRET), signed, str(identity["signature"])):
        return json_error(401, "invalid identity signature")
    address = f"user:{user_id}"
    inbound = Inbound(
        channel=CHANNEL,
        address=address,
        text="",
        display_name=(name or "")[:200] or None,
        verified_email=email,
        verified_by="web_hmac",
    )
    try:
        await db.call(conversations.resolve, inbound)
    except ValueError:
        return json_error(400, "identity email is not an email address")
    return response.json({"token": tokens.sign(address, key)})
