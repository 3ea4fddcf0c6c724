"""The WhatsApp channel, through Twilio.

Routes (under /webhooks/whatsapp):
  POST /webhook   Twilio's incoming-message webhook (form-encoded, signed with X-Twilio-Signature)
  POST /status    Twilio's status callback for the messages we sent (same signature)

An incoming message is stored first and acknowledged at once with empty TwiML; the answer goes
out later through the REST API (Twilio gives a webhook 15 s, Rasa plus the backend may need
more). WhatsApp only lets a business write freely within 24 hours of the customer's last
message; after that only an approved template may be sent.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import parse_qsl

import requests
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot import db
from bot.db import utcnow
from bot.hub import Hub
from bot.messages import Inbound, Outbound
from bot.outbox import SendError, record_part, sent_parts
from bot.store import addresses
from bot.store import notices as notice_store
from bot.store.normalize import canonical_phone
from connectors.base import MAX_BODY, Channel, json_error, missing_settings, setting
from connectors.plain_text import plain_text, redact, split_text

logger = logging.getLogger(__name__)

CHANNEL = "whatsapp"
PREFIX = "whatsapp:"
MAX_TEXT = 1600  # WhatsApp's limit for one message body through Twilio
MAX_MEDIA = 10
WINDOW = dt.timedelta(hours=24)
SEND_TIMEOUT = 15.0
DEFAULT_API_BASE_URL = "https://api.twilio.com"
REQUIRED = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_NUMBER", "PUBLIC_URL")
NO_TEMPLATE = "outside WhatsApp's 24-hour window and no template configured"
NO_NOTICE_TEMPLATE = "a notice outside WhatsApp's 24-hour window and no notice template configured"
MAX_VARIABLE = 200  # a template variable is one short line
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

# Twilio's MessageStatus -> our delivery_status; None: nothing to record (still on its way).
STATUSES: dict[str, Optional[str]] = {
    "accepted": None,
    "scheduled": None,
    "queued": None,
    "sending": None,
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "failed": "failed",
    "undelivered": "failed",
}

# The twilio library logs every request at INFO; its URLs and headers are not for our logs.
_http_logger = logging.getLogger(__name__ + ".http")
_http_logger.setLevel(logging.WARNING)


@dataclass(frozen=True)
class WhatsAppSettings:
    account_sid: str
    auth_token: str
    number: str  # the business's WhatsApp number, E.164 without "whatsapp:"
    public_url: str  # where Twilio reaches us, e.g. https://bot.example.com (signatures use it)
    api_base_url: str = DEFAULT_API_BASE_URL
    template_content_sid: Optional[str] = None
    notice_content_sid: Optional[str] = None  # the approved template of order notices (docs/notices.md)

    @classmethod
    def from_env(cls) -> tuple[Optional["WhatsAppSettings"], list[str]]:
        """The settings, or None and the names of the variables that are missing."""
        missing = missing_settings(REQUIRED)
        if missing:
            return None, missing
        number = setting("TWILIO_WHATSAPP_NUMBER") or ""
        return (
            cls(
                account_sid=setting("TWILIO_ACCOUNT_SID") or "",
                auth_token=setting("TWILIO_AUTH_TOKEN") or "",
                number=number[len(PREFIX):] if number.startswith(PREFIX) else number,
                public_url=(setting("PUBLIC_URL") or "").rstrip("/"),
                api_base_url=(setting("TWILIO_API_BASE_URL", DEFAULT_API_BASE_URL) or "").rstrip("/"),
                template_content_sid=setting("TWILIO_TEMPLATE_CONTENT_SID"),
                notice_content_sid=setting("TWILIO_NOTICE_CONTENT_SID"),
            ),
            [],
        )

    @property
    def status_callback(self) -> str:
        return self.public_url + "/webhooks/whatsapp/status"


# -- outbound --------------------------------------------------------------------------------------
class _HeaderKeepingHttpClient(TwilioHttpClient):
    """Remembers, per thread, the headers of the last response: Twilio's exception drops them,
    and a 429's Retry-After is in them."""

    def __init__(self, timeout: float) -> None:
        super().__init__(timeout=timeout, logger=_http_logger)
        self._local = threading.local()

    def request(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        self._local.headers = None
        result = super().request(*args, **kwargs)
        self._local.headers = result.headers
        return result

    def last_headers(self) -> Any:
        return getattr(self._local, "headers", None)


def retry_after_seconds(value: Optional[str]) -> Optional[float]:
    """A Retry-After header (seconds or an HTTP date) as seconds from now."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (when - utcnow()).total_seconds())


def send_error(error: TwilioRestException, headers: Any = None) -> SendError:
    """Twilio's refusal as a SendError: 429 and 5xx pass, other 4xx will not."""
    reason = f"twilio {error.status}" + (f" (code {error.code})" if error.code else "")
    detail = redact(str(error.msg or ""))[:300]
    if detail:
        reason += f": {detail}"
    if error.status == 429:
        retry_after = retry_after_seconds(headers.get("Retry-After") if headers is not None else None)
        return SendError(reason, retryable=True, retry_after=retry_after)
    return SendError(reason, retryable=error.status >= 500)


def render(outbound: Outbound) -> list[dict[str, Any]]:
    """The Twilio messages for one reply: text split at 1600, the image as media on the first."""
    parts: list[dict[str, Any]] = [{"body": body} for body in split_text(plain_text(outbound, True), MAX_TEXT)]
    if outbound.image:
        if parts:
            parts[0]["media_url"] = [outbound.image]
        else:
            parts.append({"media_url": [outbound.image]})
    return parts


def last_inbound_at(address: str) -> Optional[dt.datetime]:
    """When the person behind this WhatsApp number last wrote to us on WhatsApp."""
    return addresses.last_inbound_at(CHANNEL, address)


def within_window(last_inbound: Optional[dt.datetime], now: Optional[dt.datetime] = None) -> bool:
    if last_inbound is None:
        return False
    if last_inbound.tzinfo is None:
        last_inbound = last_inbound.replace(tzinfo=dt.timezone.utc)
    return (now or utcnow()) - last_inbound < WINDOW


def _refused(message_id: int, reason: str) -> SendError:
    """Not a failure of the provider but a rule of WhatsApp: the outbox records "refused"."""
    logger.warning("whatsapp message %s not sent: %s", message_id, reason)
    refused = SendError(reason, retryable=False)
    refused.status = "refused"  # type: ignore[attr-defined]
    return refused


class WhatsAppSender:
    """Sends replies through Twilio's Messages API (synchronous, so in a worker thread)."""

    channel = CHANNEL

    def __init__(self, settings: WhatsAppSettings, timeout: float = SEND_TIMEOUT) -> None:
        self.settings = settings
        self.timeout = timeout
        self.http = _HeaderKeepingHttpClient(timeout=timeout)
        self.client = Client(settings.account_sid, settings.auth_token, http_client=self.http)
        # twilio 8.x: every domain (api.twilio.com, ...) is a Domain object with a `base_url`.
        self.client.api.base_url = settings.api_base_url.rstrip("/")

    async def send(self, address: str, outbound: Outbound, message_id: int) -> Optional[str]:
        try:
            last = await asyncio.to_thread(last_inbound_at, address)
        except Exception as error:  # noqa: BLE001 - the database may be back on the next attempt
            raise SendError(f"could not check the 24-hour window: {type(error).__name__}") from error
        if not within_window(last):
            return await self._send_template(address, outbound, message_id)
        parts = render(outbound)
        # A split reply's parts already sent are in the store: a retry (here or on another replica,
        # or after a restart) sends only the rest.
        done = await db.call(sent_parts, message_id) if len(parts) > 1 else []
        for index, part in enumerate(parts):
            if index < len(done):
                continue
            done.append(await self._create(address, **part))
            if len(parts) > 1:
                await db.call(record_part, message_id, done[-1])
        return done[-1] if done else None

    async def _send_template(self, address: str, outbound: Outbound, message_id: int) -> str:
        """Outside the window only a pre-approved template may go: ours carries the reply's start,
        a notice's carries its three fields."""
        if outbound.notice is not None:
            return await self._send_notice(address, outbound, message_id)
        if not self.settings.template_content_sid:
            raise _refused(message_id, NO_TEMPLATE)
        preview = (outbound.text or plain_text(outbound, True)).strip()[:100]
        return await self._create(
            address,
            content_sid=self.settings.template_content_sid,
            content_variables=json.dumps({"1": preview}, ensure_ascii=False),
        )

    async def _send_notice(self, address: str, outbound: Outbound, message_id: int) -> str:
        """An order notice as the notice template: {{1}} the order, {{2}} what changed, {{3}} the
        new date; never a Body. The customer's answer opens the window and gets the full notice."""
        if not self.settings.notice_content_sid:
            raise _refused(message_id, NO_NOTICE_TEMPLATE)
        notice = outbound.notice
        assert notice is not None
        fields = {"1": notice.order_id, "2": notice.change, "3": notice.date}
        sid = await self._create(
            address,
            content_sid=self.settings.notice_content_sid,
            content_variables=json.dumps({k: v[:MAX_VARIABLE] for k, v in fields.items()}, ensure_ascii=False),
        )
        try:
            await db.call(notice_store.sent_as_template, message_id)
        except Exception as error:  # noqa: BLE001 - it went; failing here would send it again
            logger.warning("whatsapp notice %s sent as template, not recorded so (%s)", message_id, type(error).__name__)
        return sid

    async def _create(self, address: str, **params: Any) -> str:
        params.update(
            from_=PREFIX + self.settings.number,
            to=PREFIX + address,
            status_callback=self.settings.status_callback,
        )

        def call() -> tuple[Optional[str], Optional[SendError]]:
            try:
                return self.client.messages.create(**params).sid, None
            except TwilioRestException as error:
                return None, send_error(error, self.http.last_headers())

        try:
            sid, error = await asyncio.wait_for(asyncio.to_thread(call), timeout=self.timeout * 2 + 1)
        except asyncio.TimeoutError as exc:
            raise SendError("twilio: timed out") from exc
        except requests.exceptions.RequestException as exc:  # connection refused, read timeout...
            raise SendError(f"twilio: {type(exc).__name__}") from exc
        except TwilioException as exc:
            raise SendError(f"twilio: {redact(str(exc))[:300]}", retryable=False) from exc
        except Exception as exc:  # noqa: BLE001 - the outbox only understands SendError
            raise SendError(f"twilio: unexpected {type(exc).__name__}") from exc
        if error is not None:
            raise error
        if not sid:
            raise SendError("twilio: the response carried no message sid")
        return sid


# -- inbound ---------------------------------------------------------------------------------------
class Form(dict):
    """A form body as key -> list of values, with the `getall` Twilio's validator looks for."""

    def getall(self, key: str) -> list[str]:
        return self[key]

    def first(self, key: str, default: str = "") -> str:
        values = self.get(key)
        return values[0] if values else default


def parse_form(body: bytes) -> Optional[Form]:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return None
    form = Form()
    for key, value in pairs:
        form.setdefault(key, []).append(value)
    return form


def signed_url(public_url: str, request: Request) -> str:
    """The URL Twilio signed: our public address, the path, and the query string if any."""
    url = public_url.rstrip("/") + request.path
    return url + "?" + request.query_string if request.query_string else url


def inbound_from(form: Form) -> Optional[Inbound]:
    """Twilio's webhook fields as an Inbound; None when it is not a WhatsApp message."""
    sender = form.first("From")
    if not sender.startswith(PREFIX):
        return None
    address = sender[len(PREFIX):].strip()
    try:
        canonical_phone(address)
    except ValueError:
        return None
    try:
        count = min(int(form.first("NumMedia", "0") or 0), MAX_MEDIA)
    except ValueError:
        count = 0
    media = tuple(url for url in (form.first(f"MediaUrl{i}") for i in range(count)) if url)
    text = form.first("Body")
    extra: dict[str, Any] = {}
    if media:
        extra["media_types"] = [form.first(f"MediaContentType{i}") for i in range(len(media))]
    latitude, longitude = form.first("Latitude"), form.first("Longitude")
    if latitude and longitude:
        extra["location"] = {"latitude": latitude, "longitude": longitude}
        text = text or f"📍 {latitude},{longitude}"
    return Inbound(
        channel=CHANNEL,
        address=address,
        text=text,
        provider_message_id=form.first("MessageSid") or None,
        display_name=form.first("ProfileName") or None,
        verified_phone=address,
        verified_by="twilio_from",
        media_urls=media,
        extra=extra,
    )


def record_status(sid: str, status: str, error_code: str = "") -> bool:
    """Applies a status callback to the message we sent with that sid; False if we do not know it.

    Callbacks may arrive out of order; the store never moves a status back (read stays read).
    """
    problem = f"twilio: {status}" + (f" (error {error_code})" if error_code else "")
    return addresses.record_delivery(CHANNEL, sid, STATUSES.get(status), problem)


def _twiml() -> HTTPResponse:
    return HTTPResponse(EMPTY_TWIML, status=200, content_type="text/xml")


class WhatsAppInput(Channel[WhatsAppSettings]):
    channel = CHANNEL
    settings_type = WhatsAppSettings

    def __init__(
        self,
        hub: Optional[Hub] = None,
        settings: Optional[WhatsAppSettings] = None,
        sender: Optional[WhatsAppSender] = None,
    ) -> None:
        super().__init__(hub, settings)
        self.sender = sender

    # -- handlers (plain methods, so tests can call them without a server) --------------------
    def _refused(self, request: Request) -> tuple[Optional[HTTPResponse], Optional[Form]]:
        """The common checks of both webhooks: channel on, size, form, Twilio's signature."""
        if self.settings is None:
            return self.off(), None
        body = request.body or b""
        if len(body) > MAX_BODY:
            return json_error(413, "request too large"), None
        form = parse_form(body)
        if form is None:
            return json_error(400, "body must be form-encoded UTF-8"), None
        signature = request.headers.get("x-twilio-signature") or ""
        validator = RequestValidator(self.settings.auth_token)
        if not signature or not validator.validate(signed_url(self.settings.public_url, request), form, signature):
            logger.warning("whatsapp: refused a request with a missing or invalid Twilio signature")
            return json_error(403, "invalid Twilio signature"), None
        return None, form

    async def receive(self, request: Request) -> HTTPResponse:
        refused, form = self._refused(request)
        if refused is not None:
            return refused
        assert form is not None
        inbound = inbound_from(form)
        if inbound is None:
            logger.info("whatsapp: ignored a webhook that is not a WhatsApp message from a phone")
            return _twiml()
        try:
            accepted = await self.hub.accept(inbound)
        except Exception as error:  # noqa: BLE001 - 503 makes Twilio try again later
            logger.error(
                "whatsapp: could not store message %s (%s); answering 503 so Twilio retries",
                inbound.provider_message_id,
                type(error).__name__,
            )
            return json_error(503, "temporarily unable to store the message")
        if accepted is None:
            logger.info("whatsapp: message %s is a retry, already stored", inbound.provider_message_id)
        else:
            self.hub.process_later(accepted)
        return _twiml()

    async def status(self, request: Request) -> HTTPResponse:
        refused, form = self._refused(request)
        if refused is not None:
            return refused
        assert form is not None
        sid, status = form.first("MessageSid"), form.first("MessageStatus")
        if sid and status:
            try:
                known = record_status(sid, status, form.first("ErrorCode"))
            except Exception as error:  # noqa: BLE001 - let Twilio retry the callback
                logger.error("whatsapp: could not record status of %s (%s)", sid, type(error).__name__)
                return json_error(503, "temporarily unable to record the status")
            if not known:
                logger.debug("whatsapp: status %s for unknown message %s ignored", status, sid)
        return _twiml()

    def wire(self) -> None:
        assert self.settings is not None
        self.hub.register_sender(self.sender or WhatsAppSender(self.settings))

    def routes(self, bp: Blueprint) -> None:
        self.route(bp, "/webhook", self.receive)
        self.route(bp, "/status", self.status)
