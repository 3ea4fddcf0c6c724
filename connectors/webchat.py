"""The web chat channel: a small widget served by the assistant, live over server-sent events.

Routes (under /webhooks/webchat):
  POST /session   a signed session token (new, or the browser's own renewed); optional signed
                  identity of a logged-in user of the company's site
  POST /webhook   one message from the browser (Authorization: Bearer <token>); the answer
                  carries the replies and the conversation's language ("es" | "en" | null)
  GET  /history   the conversation so far, from the store, and its language (Authorization)
  POST /ticket    a single-use ticket, valid TTL seconds, that opens the live stream (Authorization)
  GET  /events    live messages (SSE), opened with `ticket=<ticket>`; `after=<id>` resumes after a
                  reconnect. The session token itself never travels in a URL.
  GET  /widget.js, /widget.css, /demo   the widget and a demo page

Session tokens expire after WEBCHAT_SESSION_DAYS without use (bot/tokens.py): an answer that
carries `token` hands the browser its renewed token. Session creation and messages are rate
limited per client IP and per session (bot/throttle.py): 429 with Retry-After.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Union

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import config, conversations, db, linking, tokens
from bot.config import IPNetwork
from bot.hub import Hub
from bot.live import LocalBus, live_bus_from_env
from bot.messages import Inbound, Outbound
from bot.store import addresses
from bot.stream_tickets import Tickets, tickets_from_env
from bot.throttle import Limit, Limiter, ip_key, limiter_from_env, retry_after
from connectors.base import Channel, client_ip, json_error

logger = logging.getLogger(__name__)

CHANNEL = "webchat"
STATIC = Path(__file__).with_name("webchat_static")
MAX_BODY = 16 * 1024
MAX_TEXT = 4096
SESSION_SECRET = "WEBCHAT_SECRET"
IDENTITY_SECRET = "WEBCHAT_IDENTITY_SECRET"
HEARTBEAT_SECONDS = 15.0
RENEW_AFTER_SECONDS = 86400.0  # a token this old is renewed in the answer to its next use


@dataclass(frozen=True)
class Policy:
    """How long sessions live, how much a client may ask, and whose X-Forwarded-For is believed."""

    session_seconds: float
    sessions_per_ip: Limit
    messages_per_ip: Limit
    messages_per_session: Limit
    link_codes_per_ip: Limit
    trusted_proxies: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_env(cls) -> "Policy":
        """From WEBCHAT_SESSION_DAYS, the RATE_LIMIT_* variables and TRUSTED_PROXIES (bot/config)."""
        def limit(name: str, variable: str, window: float) -> Limit:
            return Limit(name, config.rate_limit(variable), window)

        return cls(
            session_seconds=config.webchat_session_seconds(),
            sessions_per_ip=limit("webchat-sessions-ip", "RATE_LIMIT_SESSIONS_PER_IP", 60),
            messages_per_ip=limit("webchat-messages-ip", "RATE_LIMIT_MESSAGES_PER_IP", 60),
            messages_per_session=limit("webchat-messages-session", "RATE_LIMIT_MESSAGES_PER_SESSION", 60),
            link_codes_per_ip=limit("link-codes-ip", "RATE_LIMIT_LINK_CODES_PER_IP", 3600),
            trusted_proxies=config.trusted_proxies(),
        )

    @property
    def renew_after(self) -> float:
        return min(RENEW_AFTER_SECONDS, self.session_seconds / 10)


class WebChatSender:
    """Delivery to the web chat is the store itself: browsers read history and the live feed."""

    channel = CHANNEL

    async def send(self, address: str, outbound: Outbound, message_id: int) -> Optional[str]:
        return None


def _bearer(request: Request) -> Optional[str]:
    """The token of `Authorization: Bearer <token>`; never read from the URL."""
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def _too_many(seconds: float, what: str) -> HTTPResponse:
    answer = json_error(429, f"too many {what}; try again in {retry_after(seconds)} s")
    answer.headers["Retry-After"] = retry_after(seconds)
    return answer


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

    def __init__(self, hub: Optional[Hub] = None, bus: Optional[LocalBus] = None, *,
                 policy: Optional[Policy] = None, limiter: Optional[Limiter] = None,
                 tickets: Optional[Tickets] = None, clock: Callable[[], float] = time.time) -> None:
        """What is not given (tests give theirs) comes from the environment: the live bus, the
        rate-limit counters and the stream tickets in Redis when REDIS_URL is set (replicas),
        else in this process (bus, counters) and the database (tickets). `clock`: Unix seconds."""
        super().__init__(hub, True)
        self.bus = bus or live_bus_from_env()
        self.policy = policy or Policy.from_env()
        self.limiter = limiter or limiter_from_env()
        self.tickets = tickets or tickets_from_env()
        self.clock = clock

    def wire(self) -> None:
        self.hub.register_sender(WebChatSender())
        # Every stored public message, on whichever replica, wakes the streams watching it.
        self.hub.on_message_stored(self.bus.publish)

    async def started(self, app: Any) -> None:
        await super().started(app)
        await self.bus.start()

    async def stopping(self, app: Any) -> None:
        await self.bus.close()
        for part in (self.limiter, self.tickets):
            close = getattr(part, "close", None)  # the Redis ones hold a client
            if close is not None:
                await close()

    def routes(self, bp: Blueprint) -> None:
        self.route(bp, "/session", self.session)
        self.route(bp, "/webhook", self.receive)
        self.route(bp, "/history", self.history, "GET")
        self.route(bp, "/ticket", self.ticket)
        self.route(bp, "/events", self.events, "GET")
        for name, mime in (("widget.js", "application/javascript"), ("widget.css", "text/css"), ("demo", "text/html")):
            self.route(bp, "/" + name, _static(STATIC / ("demo.html" if name == "demo" else name), mime), "GET")

    # -- sessions -----------------------------------------------------------------------------
    def _verify(self, token: Optional[str]) -> Union[tokens.Session, HTTPResponse]:
        """The session of a token, or the 401 that says why not (invalid, or expired)."""
        if not token:
            return json_error(401, "missing session token (Authorization: Bearer <token>)")
        try:
            return tokens.verify_session(token, tokens.secret(SESSION_SECRET), self.policy.session_seconds,
                                         self.clock())
        except tokens.TokenRefused as refused:
            return json_error(401, str(refused))

    def _sign(self, session_id: str) -> str:
        return tokens.sign_session(session_id, tokens.secret(SESSION_SECRET), self.clock())

    def _renewal(self, session: tokens.Session) -> dict[str, str]:
        """`{"token": renewed}` when the token is old enough to renew on this use, else nothing."""
        if self.clock() - session.issued_at < self.policy.renew_after:
            return {}
        return {"token": self._sign(session.session_id)}

    async def _throttled(self, limit: Limit, key: str, what: str) -> Optional[HTTPResponse]:
        wait = await self.limiter.hit(limit, key)
        return None if wait is None else _too_many(wait, what)

    def _ip(self, request: Request) -> str:
        return ip_key(client_ip(request, self.policy.trusted_proxies))

    # -- POST /session ------------------------------------------------------------------------
    async def session(self, request: Request) -> HTTPResponse:
        """A signed session token: new, the browser's own renewed, or for a signed-in user."""
        if len(request.body or b"") > MAX_BODY:
            return json_error(413, "request too large")
        body = _json_body(request)
        if body is None:
            return json_error(400, "body must be a JSON object")
        if body.get("token") and body.get("identity") is None:  # a renewal: no new session
            session = self._verify(str(body["token"]))
            if isinstance(session, HTTPResponse):
                return session
            return response.json({"token": self._sign(session.session_id)})
        limited = await self._throttled(self.policy.sessions_per_ip, self._ip(request), "new sessions")
        if limited is not None:
            return limited
        if body.get("identity") is not None:
            return await self._signed_session(body["identity"])
        return response.json({"token": self._sign(tokens.new_session_id())})

    async def _signed_session(self, identity: Any) -> HTTPResponse:
        """A session for a user the company's site signed in (HMAC over user_id|email|ts)."""
        checked = _identity(identity)
        if isinstance(checked, HTTPResponse):
            return checked
        user_id, email, name, ts = checked
        try:
            key = tokens.secret(IDENTITY_SECRET)
            tokens.verify_identity(key, user_id, email, ts, str(identity["signature"]), self.clock())
        except tokens.TokenRefused as refused:
            return json_error(401, str(refused))
        address = f"user:{user_id}"
        inbound = Inbound(channel=CHANNEL, address=address, text="", display_name=(name or "")[:200] or None,
                          verified_email=email, verified_by="web_hmac")
        try:
            await db.call(conversations.resolve, inbound)
        except ValueError:
            return json_error(400, "identity email is not an email address")
        return response.json({"token": self._sign(address)})

    # -- POST /webhook ------------------------------------------------------------------------
    async def receive(self, request: Request) -> HTTPResponse:
        """One message from the browser: stored, processed, answered with the replies."""
        if len(request.body or b"") > MAX_BODY:
            return json_error(413, "message too large")
        session = self._verify(_bearer(request))
        if isinstance(session, HTTPResponse):
            return session
        ip = self._ip(request)
        limited = (await self._throttled(self.policy.messages_per_ip, ip, "messages")
                   or await self._throttled(self.policy.messages_per_session, session.session_id, "messages"))
        if limited is not None:
            return limited
        body = _json_body(request)
        if body is None:
            return json_error(400, "body must be a JSON object")
        inbound = _inbound(session.session_id, body)
        if isinstance(inbound, HTTPResponse):
            return inbound
        if linking.find_code(inbound.text):  # guessing codes from ever new sessions: bounded per IP
            limited = await self._throttled(self.policy.link_codes_per_ip, ip, "link code attempts")
            if limited is not None:
                return limited
        return await self._answer(inbound, self._renewal(session))

    async def _answer(self, inbound: Inbound, renewal: dict[str, str]) -> HTTPResponse:
        """The answer to a message; `renewal` (the session's renewed token, if any) goes with it."""
        # Reliability fix (tests/reliability/test_faults.py): accept and process apart, so a
        # store that is briefly down is a clear 503 the widget retries (not a bare 500), and a
        # failure after the message is stored is a 202: hub.recover answers it later.
        try:
            accepted = await self.hub.accept(inbound)
        except Exception as error:  # noqa: BLE001 - nothing was stored: the browser may retry
            logger.error("webchat: could not store a message (%s); answering 503", type(error).__name__)
            return json_error(503, "temporarily unable to store the message; please try again")
        if accepted is None:
            return response.json({"status": "duplicate", **renewal})
        try:
            receipt = await self.hub.process(accepted)
        except Exception as error:  # noqa: BLE001 - stored: it is processed again by hub.recover
            logger.error("webchat: message %s stored, processing failed (%s)", accepted.message_id, type(error).__name__)
            return response.json(
                {"conversation_id": accepted.party.conversation_id, "message_id": accepted.message_id,
                 "replies": [], **renewal},
                status=202,
            )
        replies = await db.call(conversations.messages_json, receipt.replies)
        language = await db.call(conversations.language_of, receipt.conversation_id)
        return response.json(
            {"conversation_id": receipt.conversation_id, "message_id": receipt.message_id, "replies": replies,
             "language": language, **renewal}
        )

    # -- GET /history, POST /ticket, GET /events -----------------------------------------------
    async def history(self, request: Request) -> HTTPResponse:
        """The conversation so far, from the store, and its language."""
        session = self._verify(_bearer(request))
        if isinstance(session, HTTPResponse):
            return session
        conversation_id = await db.call(_conversation_of, session.session_id)
        messages = await db.call(conversations.history, conversation_id) if conversation_id else []
        return response.json({"messages": messages, "language": await db.call(conversations.language_of, conversation_id)})

    async def ticket(self, request: Request) -> HTTPResponse:
        """A single-use ticket for GET /events, in exchange for the session token in a header."""
        session = self._verify(_bearer(request))
        if isinstance(session, HTTPResponse):
            return session
        ticket = await self.tickets.issue(session.session_id)
        expires_in = int(self.tickets.ttl)
        return response.json({"ticket": ticket, "expires_in": expires_in, **self._renewal(session)})

    async def events(self, request: Request) -> HTTPResponse:
        """Live messages as server-sent events, opened with a ticket; `after=<id>` resumes."""
        try:
            after = int(request.args.get("after") or request.headers.get("last-event-id") or 0)
        except ValueError:
            return json_error(400, "after must be a message id")
        session_id = await self.tickets.redeem(request.args.get("ticket"))
        if session_id is None:
            return json_error(401, "missing, used or expired stream ticket; POST /ticket for a new one")
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


def _identity(identity: Any) -> "tuple[str, Optional[str], Optional[str], int] | HTTPResponse":
    """(user_id, email, name, ts) of a signed identity's fields, or the 400 for malformed ones."""
    if not isinstance(identity, dict) or not identity.get("user_id") or not identity.get("signature"):
        return json_error(400, "identity needs user_id, ts and signature")
    user_id = str(identity["user_id"])[:128]
    email, name, ts = identity.get("email"), identity.get("name"), identity.get("ts")
    if not all(v is None or isinstance(v, str) for v in (email, name)) or len(email or "") > 254:
        return json_error(400, "identity email and name must be strings")
    if "|" in user_id or "|" in (email or ""):
        return json_error(400, "identity user_id and email cannot contain '|'")
    if isinstance(ts, str) and ts.strip().isdigit():
        ts = int(ts.strip())
    if isinstance(ts, bool) or not isinstance(ts, int):
        return json_error(400, "identity needs ts: the Unix time in seconds when the site signed it")
    return user_id, email or None, name, ts
