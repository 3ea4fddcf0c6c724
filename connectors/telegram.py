"""The Telegram channel, through the Bot API (python-telegram-bot).

Routes (under /webhooks/telegram):
  POST /webhook   Telegram's updates; the header X-Telegram-Bot-Api-Secret-Token must carry
                  TELEGRAM_WEBHOOK_SECRET (Telegram sends what setWebhook registered)

Registering the webhook is a separate, deliberate step (never done on start):

    python -m connectors.telegram set-webhook

An update is stored first and acknowledged at once; the answer goes out through sendMessage.
Only private chats are served: in a group, one member's shared phone would open that member's
orders to everyone in it.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import sys
from dataclasses import dataclass
from typing import Any, Optional

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from bot import db
from bot.hub import Hub
from bot.messages import Inbound, Outbound
from bot.outbox import SendError, record_part, sent_parts
from bot.store import addresses
from bot.store.normalize import canonical_phone
from connectors.base import MAX_BODY, Channel, json_error, missing_settings, setting
from connectors.plain_text import plain_text, redact, split_text

logger = logging.getLogger(__name__)

CHANNEL = "telegram"
MAX_TEXT = 4096  # Telegram's limit for one message
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64  # bytes
HASHED_PREFIX = "h:"
SEND_TIMEOUT = 15.0
DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
REQUIRED = ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET")
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
_SECRET_FORMAT = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_HASHED = re.compile(r"^h:[0-9a-f]{32}$")
_RECENT_REPLIES = 50  # how far back a hashed button payload is looked for


@dataclass(frozen=True)
class TelegramSettings:
    bot_token: str
    webhook_secret: str
    api_base_url: str = DEFAULT_API_BASE_URL
    public_url: Optional[str] = None  # only needed to register the webhook

    @classmethod
    def from_env(cls) -> tuple[Optional["TelegramSettings"], list[str]]:
        """The settings, or None and the names of the variables that are missing."""
        missing = missing_settings(REQUIRED)
        if missing:
            return None, missing
        public_url = setting("PUBLIC_URL")
        return (
            cls(
                bot_token=setting("TELEGRAM_BOT_TOKEN") or "",
                webhook_secret=setting("TELEGRAM_WEBHOOK_SECRET") or "",
                api_base_url=setting("TELEGRAM_API_BASE_URL", DEFAULT_API_BASE_URL) or DEFAULT_API_BASE_URL,
                public_url=public_url.rstrip("/") if public_url else None,
            ),
            [],
        )

    @property
    def webhook_url(self) -> str:
        return (self.public_url or "") + "/webhooks/telegram/webhook"


def make_bot(settings: TelegramSettings, timeout: float = SEND_TIMEOUT) -> Bot:
    request = HTTPXRequest(connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout, pool_timeout=timeout)
    return Bot(settings.bot_token, base_url=settings.api_base_url, request=request)


# -- outbound --------------------------------------------------------------------------------------
def callback_data(payload: str) -> str:
    """A button's payload as Telegram's callback_data (at most 64 bytes).

    A longer payload travels as "h:" + 32 hex digits of its SHA-256; the full payload stays in
    the store (the reply's buttons), where the callback finds it again. Cutting the payload
    instead could turn one intent or entity into another.
    """
    if len(payload.encode("utf-8")) <= MAX_CALLBACK_DATA and not _HASHED.match(payload):
        return payload
    return HASHED_PREFIX + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def keyboard(outbound: Outbound) -> Optional[InlineKeyboardMarkup]:
    if not outbound.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(button.title[:200] or button.payload[:200], callback_data=callback_data(button.payload))]
         for button in outbound.buttons]
    )


def plan(outbound: Outbound) -> list[tuple[str, dict[str, Any]]]:
    """The Bot API calls for one reply: a photo (with the text as caption when it fits), then the
    text split at 4096, the buttons (inline keyboard) on the last part."""
    text = plain_text(outbound, numbered_buttons=False)
    markup = keyboard(outbound)
    steps: list[tuple[str, dict[str, Any]]] = []
    if outbound.image:
        if text and len(text) <= MAX_CAPTION:
            return [("photo", {"photo": outbound.image, "caption": text, "reply_markup": markup})]
        steps.append(("photo", {"photo": outbound.image}))
    parts = split_text(text, MAX_TEXT)
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        steps.append(("text", {"text": part, "reply_markup": markup if last else None}))
    if markup is not None and not parts:
        steps.append(("text", {"text": "…", "reply_markup": markup}))
    return steps


def send_error(error: Exception) -> SendError:
    """A Bot API failure as a SendError: flood control, network and 5xx pass; the rest will not."""
    if isinstance(error, RetryAfter):
        value = error.retry_after
        seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
        return SendError(f"telegram: flood control, retry after {seconds:g} s", retryable=True, retry_after=seconds)
    reason = f"telegram: {redact(str(error))[:300]}"
    if isinstance(error, (BadRequest, Forbidden, InvalidToken, ChatMigrated)):
        return SendError(reason, retryable=False)  # BadRequest is a NetworkError: test it first
    if isinstance(error, NetworkError):  # includes TimedOut and 5xx answers
        return SendError(reason, retryable=True)
    if isinstance(error, TelegramError):
        return SendError(reason, retryable=False)
    return SendError(f"telegram: unexpected {type(error).__name__}", retryable=True)


class TelegramSender:
    """Sends replies with the Bot API: text, inline keyboards, photos."""

    channel = CHANNEL

    def __init__(self, settings: TelegramSettings, timeout: float = SEND_TIMEOUT, bot: Optional[Bot] = None) -> None:
        self.settings = settings
        self.timeout = timeout
        self.bot = bot or make_bot(settings, timeout)

    async def send(self, address: str, outbound: Outbound, message_id: int) -> Optional[str]:
        chat_id: int | str = int(address) if address.lstrip("-").isdigit() else address
        parts = plan(outbound)
        # A split reply's parts already sent are in the store: a retry (here or on another replica,
        # or after a restart) sends only the rest.
        done = await db.call(sent_parts, message_id) if len(parts) > 1 else []
        for index, (kind, params) in enumerate(parts):
            if index < len(done):
                continue
            try:
                call = self.bot.send_photo if kind == "photo" else self.bot.send_message
                sent = await asyncio.wait_for(call(chat_id=chat_id, **params), timeout=self.timeout * 2 + 1)
            except asyncio.TimeoutError as exc:
                raise SendError("telegram: timed out") from exc
            except Exception as exc:  # noqa: BLE001 - the outbox only understands SendError
                raise send_error(exc) from exc
            # Telegram numbers messages per chat: the chat makes the id unique on the channel.
            done.append(f"{chat_id}:{sent.message_id}")
            if len(parts) > 1:
                await db.call(record_part, message_id, done[-1])
        return done[-1] if done else None


# -- inbound ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Parsed:
    """What an update asks of us: a message to accept, a button press to answer, or both."""

    inbound: Optional[Inbound]
    callback_query_id: Optional[str] = None


def _display_name(user: Any) -> Optional[str]:
    if user is None:
        return None
    name = " ".join(part for part in (user.first_name, user.last_name) if part)
    return name or user.username or None


def _media(message: Any) -> tuple[str, ...]:
    """References to a message's files (Telegram gives file ids, fetched later with getFile)."""
    files = []
    if message.photo:
        files.append(message.photo[-1].file_id)  # the largest size
    for kind in ("document", "video", "voice", "audio", "video_note", "sticker", "animation"):
        item = getattr(message, kind, None)
        if item is not None and getattr(item, "file_id", None):
            files.append(item.file_id)
            break
    return tuple(f"tg-file:{file_id}" for file_id in files)


def _verified_phone(message: Any) -> Optional[str]:
    """The phone of a contact the sender shared, only if it is the sender's own card."""
    contact, user = message.contact, message.from_user
    if contact is None or user is None or contact.user_id is None or contact.user_id != user.id:
        return None
    try:
        return canonical_phone(contact.phone_number)
    except ValueError:
        return None


def _from_message(update: Update) -> Optional[Inbound]:
    message = update.message or update.edited_message
    if message is None or message.chat is None or message.chat.type != "private":
        return None
    text = message.text or message.caption or ""
    extra: dict[str, Any] = {}
    payload: Optional[str] = None
    if update.edited_message is not None:
        extra["edited"] = True
    if message.location is not None:
        location = {"latitude": message.location.latitude, "longitude": message.location.longitude}
        extra["location"] = location
        text = text or f"📍 {location['latitude']},{location['longitude']}"
    phone = _verified_phone(message)
    if message.contact is not None:
        extra["contact"] = {"own": phone is not None}
        if phone is not None:
            # Nothing to say to the NLU, but the person is now known: greet them with what we can do.
            text, payload = text or "📱 Contacto compartido / Shared contact", "/greet"
        else:
            contact = message.contact
            name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
            text = text or f"📇 {name} {contact.phone_number}".strip()
    elif text.strip() == "/start" or text.startswith("/start "):
        payload = "/greet"  # Telegram's "Start" button
    media = _media(message)
    if not text and not media and payload is None:
        return None  # a service message (pinned, joined...), nothing a person said
    return Inbound(
        channel=CHANNEL,
        address=str(message.chat.id),
        text=text,
        provider_message_id=str(update.update_id),
        display_name=_display_name(message.from_user),
        payload=payload,
        verified_phone=phone,
        verified_by="telegram_contact" if phone else None,
        media_urls=media,
        extra=extra,
    )


def _button_title(query: Any) -> Optional[str]:
    markup = getattr(query.message, "reply_markup", None) if query.message is not None else None
    for row in getattr(markup, "inline_keyboard", None) or ():
        for button in row:
            if button.callback_data == query.data:
                return button.text
    return None


def resolve_payload(address: str, data: str) -> Optional[str]:
    """The full payload behind a hashed callback_data, from our recent replies to this chat."""
    for full in addresses.offered_payloads(CHANNEL, address, _RECENT_REPLIES):
        if callback_data(full) == data:
            return full
    return None


def _from_callback(update: Update) -> Optional[Parsed]:
    query = update.callback_query
    if query is None:
        return None
    chat = getattr(query.message, "chat", None) if query.message is not None else None
    if chat is not None and chat.type != "private":
        return Parsed(None, query.id)
    address = str(chat.id if chat is not None else query.from_user.id)
    if not query.data:
        return Parsed(None, query.id)  # a game button: nothing for us
    payload: Optional[str] = query.data
    if _HASHED.match(query.data):
        payload = resolve_payload(address, query.data)
    title = _button_title(query)
    return Parsed(
        Inbound(
            channel=CHANNEL,
            address=address,
            text=title or payload or "",
            provider_message_id=str(update.update_id),
            display_name=_display_name(query.from_user),
            payload=payload,  # None if a hashed payload is gone: the title then goes to the NLU
            extra={"callback": True},
        ),
        query.id,
    )


def parse(update: Update) -> Parsed:
    """The usable part of an update; Parsed(None) for anything else (my_chat_member, polls...)."""
    return _from_callback(update) or Parsed(_from_message(update))


class TelegramInput(Channel[TelegramSettings]):
    channel = CHANNEL
    settings_type = TelegramSettings

    def __init__(
        self,
        hub: Optional[Hub] = None,
        settings: Optional[TelegramSettings] = None,
        sender: Optional[TelegramSender] = None,
    ) -> None:
        super().__init__(hub, settings)
        self.sender = sender
        if self.settings is not None and sender is None:
            self.sender = TelegramSender(self.settings)
        self._tasks: set[asyncio.Task] = set()

    @property
    def bot(self) -> Optional[Bot]:
        return self.sender.bot if self.sender is not None else None

    async def receive(self, request: Request) -> HTTPResponse:
        if self.settings is None:
            return self.off()
        body = request.body or b""
        if len(body) > MAX_BODY:
            return json_error(413, "request too large")
        given = (request.headers.get("x-telegram-bot-api-secret-token") or "").encode("utf-8")
        if not hmac.compare_digest(given, self.settings.webhook_secret.encode("utf-8")):
            logger.warning("telegram: refused an update with a missing or wrong secret token")
            return json_error(403, "invalid secret token")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return json_error(400, "body must be JSON")
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return json_error(400, "not a Telegram update")
        try:
            parsed = parse(Update.de_json(data, self.bot))
        except Exception as error:  # noqa: BLE001 - a shape we cannot read is not worth a retry storm
            logger.warning("telegram: ignored update %s that could not be parsed (%s)", data["update_id"], type(error).__name__)
            return response.json({"status": "ignored"})
        if parsed.inbound is None:
            if parsed.callback_query_id:
                self._answer(parsed.callback_query_id)
            return response.json({"status": "ignored"})
        try:
            accepted = await self.hub.accept(parsed.inbound)
        except Exception as error:  # noqa: BLE001 - 503 makes Telegram try again later
            logger.error(
                "telegram: could not store update %s (%s); answering 503 so Telegram retries",
                data["update_id"],
                type(error).__name__,
            )
            return json_error(503, "temporarily unable to store the update")
        if accepted is None:
            logger.info("telegram: update %s is a retry, already stored", data["update_id"])
            return response.json({"status": "duplicate"})
        if parsed.callback_query_id:
            self._answer(parsed.callback_query_id)
        self.hub.process_later(accepted)
        return response.json({"status": "ok"})

    def _answer(self, callback_query_id: str) -> None:
        """Stops the button's spinner, in the background: the webhook must answer fast."""
        if self.bot is None:
            return
        task = asyncio.get_running_loop().create_task(self._answer_now(callback_query_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer_now(self, callback_query_id: str) -> None:
        assert self.bot is not None
        try:
            await self.bot.answer_callback_query(callback_query_id)
        except Exception as error:  # noqa: BLE001 - a stale spinner is cosmetic
            logger.info("telegram: answerCallbackQuery failed (%s)", type(error).__name__)

    def wire(self) -> None:
        assert self.sender is not None
        self.hub.register_sender(self.sender)
        # httpx logs each request URL at INFO, and Bot API URLs contain the bot's token.
        logging.getLogger("httpx").setLevel(logging.WARNING)

    def routes(self, bp: Blueprint) -> None:
        self.route(bp, "/webhook", self.receive)


# -- command line ----------------------------------------------------------------------------------
async def set_webhook(settings: TelegramSettings, drop_pending_updates: bool = False) -> bool:
    """Registers PUBLIC_URL/webhooks/telegram/webhook with Telegram, with our secret token."""
    async with make_bot(settings) as bot:  # getMe first: a wrong token fails here, clearly
        return await bot.set_webhook(
            url=settings.webhook_url,
            secret_token=settings.webhook_secret,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=drop_pending_updates,
        )


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m connectors.telegram", description="Telegram channel tools")
    commands = parser.add_subparsers(dest="command", required=True)
    register = commands.add_parser("set-webhook", help="register PUBLIC_URL/webhooks/telegram/webhook with Telegram")
    register.add_argument("--drop-pending-updates", action="store_true", help="discard updates Telegram queued")
    args = parser.parse_args(argv)

    settings, missing = TelegramSettings.from_env()
    if settings is not None and not settings.public_url:
        missing = ["PUBLIC_URL"]
    if settings is None or missing:
        print(f"telegram channel off: {', '.join(missing)} not set", file=sys.stderr)
        return 2
    if not _SECRET_FORMAT.match(settings.webhook_secret):
        print("TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ and -", file=sys.stderr)
        return 2
    if not settings.webhook_url.startswith("https://"):
        print("PUBLIC_URL must be https:// (Telegram only calls HTTPS webhooks)", file=sys.stderr)
        return 2
    try:
        asyncio.run(set_webhook(settings, args.drop_pending_updates))
    except TelegramError as error:
        print(f"setWebhook failed: {error}", file=sys.stderr)
        return 1
    print(f"webhook set: {settings.webhook_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
