"""Human hand-off in Slack: escalated conversations become threads in the agents' channel.

One endpoint, POST /webhooks/slack/webhook, takes Slack's events (including url_verification),
interactivity (the Claim / Resolve / Return to bot buttons) and the /resolve slash command. It is
a slack-bolt AsyncApp behind slack_sdk's SignatureVerifier: the signature and its 5-minute
replay window are checked on the raw bytes before anything parses the body (bolt parses first,
and an unsigned body such as the JSON scalar `0` crashed its enterprise-install lookup). Bolt has no adapter for the Sanic that Rasa 3.6 ships
(21.12), so the request and response are translated here.

Settings (environment or .env): SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_AGENT_CHANNEL (the
channel id), SLACK_API_BASE_URL (default https://slack.com/api/), HANDOFF_REMINDER_MINUTES
(default 5). Without the first three the desk is off and the endpoint answers 503.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Optional

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot import handoff
from bot.db import utcnow
from bot.hub import Hub
from connectors.base import Channel, json_error, missing_settings, setting
from connectors.slack.blocks import CLAIM, RESOLVE, RETURN, agent_text
from connectors.slack.desk import SlackDesk

logger = logging.getLogger(__name__)

__all__ = ["SlackInput", "SlackSettings", "agent_reply", "button_click", "to_bolt_request"]

DEFAULT_API_BASE_URL = "https://slack.com/api/"
MAX_BODY = 512 * 1024
REQUIRED = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_AGENT_CHANNEL")
FIXED_NOW = "HANDOFF_NOW"  # tests and demos only: the clock used for business hours (ISO 8601)


@dataclass(frozen=True)
class SlackSettings:
    token: str
    signing_secret: str
    channel: str
    api_base_url: str = DEFAULT_API_BASE_URL
    reminder_minutes: float = 5.0

    @classmethod
    def from_env(cls) -> tuple[Optional["SlackSettings"], list[str]]:
        """The settings, or None and the names of the missing variables."""
        missing = missing_settings(REQUIRED)
        if missing:
            return None, missing
        base_url = setting("SLACK_API_BASE_URL", DEFAULT_API_BASE_URL) or DEFAULT_API_BASE_URL
        raw_minutes = setting("HANDOFF_REMINDER_MINUTES", "") or ""
        try:
            minutes = float(raw_minutes) if raw_minutes else 5.0
            if minutes <= 0:
                raise ValueError(raw_minutes)
        except ValueError:
            logger.warning("HANDOFF_REMINDER_MINUTES=%r is not a positive number; using 5", raw_minutes)
            minutes = 5.0
        return (
            cls(
                token=setting("SLACK_BOT_TOKEN") or "",
                signing_secret=setting("SLACK_SIGNING_SECRET") or "",
                channel=setting("SLACK_AGENT_CHANNEL") or "",
                api_base_url=base_url if base_url.endswith("/") else base_url + "/",
                reminder_minutes=minutes,
            ),
            [],
        )


def _clock() -> Callable[[], dt.datetime]:
    fixed = setting(FIXED_NOW)
    if not fixed:
        return utcnow
    moment = dt.datetime.fromisoformat(fixed)
    if moment.tzinfo is None:
        raise ValueError(f"{FIXED_NOW} needs a time zone, e.g. 2025-11-26T11:00:00-06:00")
    logger.warning("%s is set: business hours are judged at the fixed time %s", FIXED_NOW, moment.isoformat())
    return lambda: moment


def to_bolt_request(request: Request) -> AsyncBoltRequest:
    """The raw body (signatures are computed over its bytes), query and every header value."""
    headers = {name: request.headers.getall(name) for name in request.headers.keys()}
    body = request.body.decode("utf-8", "replace")
    return AsyncBoltRequest(body=body, query=request.query_string, headers=headers)


@dataclass(frozen=True)
class AgentReply:
    user: str
    ts: str
    thread_ts: str
    text: str


def agent_reply(event: Any, channel: str) -> Optional[AgentReply]:
    """A person's message in a thread of the agents' channel; None for anything else.

    A separate function so its parsing is tested on its own (tests/reliability/test_bad_input.py).
    """
    if not isinstance(event, dict) or event.get("channel") != channel:
        return None  # only the agents' channel and its threads
    if event.get("bot_id") or event.get("subtype") not in (None, "thread_broadcast", "file_share"):
        return None  # our own posts, other bots, edits and deletions: never relayed (no loops)
    user, ts, thread_ts = event.get("user"), event.get("ts"), event.get("thread_ts")
    if not all(isinstance(v, str) and v for v in (user, ts, thread_ts)) or thread_ts == ts:
        return None  # top-level chatter in the channel is the agents' own business
    text = event.get("text")
    return AgentReply(user, ts, thread_ts, text if isinstance(text, str) else "")


def button_click(body: Any) -> tuple[Optional[str], Optional[str], str]:
    """(user, channel, conversation id) of a click on one of our buttons; missing parts are None/""."""

    def part(key: str) -> dict:
        value = body.get(key) if isinstance(body, dict) else None
        return value if isinstance(value, dict) else {}

    user = part("user").get("id")
    where = part("channel").get("id") or part("container").get("channel_id")
    actions = body.get("actions") if isinstance(body, dict) else None
    first = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
    return (
        user if isinstance(user, str) else None,
        where if isinstance(where, str) else None,
        str(first.get("value") or ""),
    )


def _reminder_interval(minutes: float) -> float:
    """About every 10 s; more often when reminders are due sooner (tests)."""
    return max(0.5, min(10.0, minutes * 60 / 2))


Act = Callable[[str, str], Awaitable[Optional[str]]]


class SlackInput(Channel[SlackSettings]):
    """The Slack side of the hub: not a customer channel, the agents' desk."""

    channel = "slack"
    settings_type = SlackSettings
    attaches_rasa = False

    def __init__(self, hub: Optional[Hub] = None, settings: Optional[SlackSettings] = None) -> None:
        super().__init__(hub, settings)
        settings = self.settings
        self.desk: Optional[SlackDesk] = None
        self.app: Optional[AsyncApp] = None
        self._sanic_app: Any = None
        self._loop_task: Optional[asyncio.Task] = None
        if settings is not None:
            client = AsyncWebClient(token=settings.token, base_url=settings.api_base_url)
            self.desk = SlackDesk(
                self.hub,
                client,
                settings.channel,
                reminder_minutes=settings.reminder_minutes,
                now=_clock(),
                resumer=self._resume,
            )
            self.app = self._bolt_app(client, settings)

    @property
    def enabled(self) -> bool:
        return self.app is not None

    # -- bolt: one step per kind of thing agents do ---------------------------------------------
    def _bolt_app(self, client: AsyncWebClient, settings: SlackSettings) -> AsyncApp:
        # process_before_response: Slack gets its answer once the work is stored, like every
        # other channel of the hub; a retry after a slow answer is deduplicated by the store.
        app = AsyncApp(
            client=client, signing_secret=settings.signing_secret, process_before_response=True, name="unisono"
        )
        # Bolt logs a refused request with its whole body at INFO (its level is set while the app is
        # built): customers' words have no place in logs; handle() logs the refusal without them.
        logging.getLogger("slack_bolt.RequestVerification").setLevel(logging.WARNING)
        self._on_thread_replies(app, settings.channel)
        self._on_buttons(app, settings.channel)
        self._on_resolve_command(app, settings.channel)
        return app

    def _on_thread_replies(self, app: AsyncApp, channel: str) -> None:
        """An agent's message in a hand-off thread: a reply, a note or "resolve"."""
        desk = self.desk
        assert desk is not None

        @app.event("message")
        async def on_message(event: dict) -> None:
            reply = agent_reply(event, channel)
            if reply is None:
                return
            feedback = await desk.agent_wrote(reply.thread_ts, reply.ts, reply.user, reply.text)
            if feedback:
                await desk.ephemeral(reply.user, feedback, reply.thread_ts)

    def _on_buttons(self, app: AsyncApp, channel: str) -> None:
        """Claim, Resolve and Return to bot on a hand-off's summary."""
        desk = self.desk
        assert desk is not None

        async def button(body: dict, ack: Callable[..., Awaitable[Any]], act: Act) -> None:
            await ack()
            user, where, conversation_id = button_click(body)
            if not user:
                return
            if where != channel:
                await desk.ephemeral(user, agent_text("wrong_channel"))
                return
            feedback = await act(conversation_id, user)
            if feedback:
                thread_ts = (body.get("container") or {}).get("message_ts")
                await desk.ephemeral(user, feedback, thread_ts)

        def listener(act: Act) -> Callable[[dict, Any], Awaitable[None]]:
            async def on_click(body: dict, ack: Any) -> None:  # bolt injects by these names
                await button(body, ack, act)

            return on_click

        for action_id, act in ((CLAIM, desk.claim), (RESOLVE, desk.resolve), (RETURN, desk.return_to_bot)):
            app.action(action_id)(listener(act))

    def _on_resolve_command(self, app: AsyncApp, channel: str) -> None:
        """/resolve <conversation id>, in the agents' channel."""
        desk = self.desk
        assert desk is not None

        @app.command("/resolve")
        async def on_resolve_command(command: dict, ack: Any) -> None:
            if command.get("channel_id") != channel:
                await ack(text=agent_text("wrong_channel"))
                return
            conversation_id = (command.get("text") or "").strip().strip("`")
            if not conversation_id:
                await ack(text=agent_text("resolve_hint"))
                return
            feedback = await desk.resolve(conversation_id, command.get("user_id") or "")
            await ack(text=feedback or agent_text("resolved", agent=command.get("user_id") or "?"))

    async def _resume(self, conversation_id: str) -> None:
        agent = getattr(getattr(self._sanic_app, "ctx", None), "agent", None)
        await handoff.resume(agent, conversation_id)

    # -- HTTP ---------------------------------------------------------------------------------
    def off(self) -> HTTPResponse:
        return json_error(503, "the Slack desk is not configured")

    def log_off(self) -> None:
        self.logger.warning(
            "Slack desk is off (missing %s): hand-offs wait without agents being told; see README, Slack",
            ", ".join(self.missing),
        )

    def wire(self) -> None:
        assert self.desk is not None
        self.hub.set_desk(self.desk)
        self.hub.add_interceptor(self.desk.csat_interceptor)
        self.logger.info("Slack desk is on: hand-offs go to channel %s", self.desk.channel)

    async def started(self, app: Any) -> None:
        self._sanic_app = app
        if self.desk is not None and self.settings is not None:
            self.hub.start()  # the outbox delivers what agents send; idempotent
            interval = _reminder_interval(self.settings.reminder_minutes)
            self._loop_task = asyncio.get_running_loop().create_task(self.desk.run_forever(interval))

    async def stopping(self, app: Any) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()

    def routes(self, bp: Blueprint) -> None:
        self.route(bp, "/webhook", self.handle)

    async def handle(self, request: Request) -> HTTPResponse:
        """Slack's requests, through bolt (signature and replay window checked here first)."""
        if self.app is None:
            return self.off()
        if len(request.body or b"") > MAX_BODY:
            return json_error(413, "request too large")
        if not self._signed(request):
            logger.warning("refused a Slack request: missing, bad or stale signature")
            return json_error(401, "invalid request signature")
        try:
            bolt_request = to_bolt_request(request)
        except ValueError:
            # A signed body that is not what its content type says: Slack's bug, not a crash of ours.
            logger.warning("refused a Slack request whose body is not what its content type says")
            return json_error(400, "malformed body")
        answer = await self.app.async_dispatch(bolt_request)
        if answer.status == 401:
            logger.warning("refused a Slack request: missing, bad or stale signature")
        if answer.status == 404:
            return response.json({"ok": True})  # an event nobody here handles: acknowledged, not retried
        headers = {
            k: v
            for k, v in answer.first_headers_without_set_cookie().items()
            if k.lower() not in ("content-type", "content-length")
        }
        content_type = (answer.headers.get("content-type") or ["text/plain; charset=utf-8"])[0]
        return HTTPResponse(body=answer.body, status=answer.status, headers=headers, content_type=content_type)

    def _signed(self, request: Request) -> bool:
        """Slack's HMAC over the raw bytes and a timestamp within 5 minutes, before any parsing."""
        assert self.settings is not None
        stamp = (request.headers.get("x-slack-request-timestamp") or "").strip()
        signature = (request.headers.get("x-slack-signature") or "").strip()
        if not stamp.isdigit() or not signature:
            return False
        verifier = SignatureVerifier(self.settings.signing_secret)
        try:
            return verifier.is_valid(body=request.body or b"", timestamp=stamp, signature=signature)
        except UnicodeDecodeError:
            return False  # Slack signs UTF-8 text; other bytes cannot carry its signature
