"""`POST /api/v1/order-events`: the ERP tells us what changed in an order; and the notices' wiring.

    {"event_id": "...", "order_id": "PED-10235", "type": "delayed" | "shipped" | "delivered" |
     "ready_for_pickup", "reason": "...", "expected_date": "YYYY-MM-DD", "carrier": "...",
     "tracking_number": "..."}

Only `event_id`, `order_id` and `type` are required. The body is signed: `X-Unisono-Signature:
sha256=<hex HMAC-SHA256 of the raw body keyed with ORDER_EVENTS_SECRET>`, checked on the raw
bytes before anything parses them. Answers: 202 stored (its notice follows, bot/notices.py); 200
a replayed `event_id`, nothing more done; 401 a missing or wrong signature; 400 a body that is not
such an event (the error says what); 404 an unknown order, or the whole endpoint while
ORDER_EVENTS_SECRET is unset; 413 too large.

Not a customer channel: an inbound integration of the business, and the one place that joins the
business (who owns the order: ops/notices.py) and the core (the event, the notice job), so it lives
with operations, like ops/health.py, and is registered in credentials.yml the same way. Loading it
also wires the notices into the server: the periodic overdue check's job handler, and its first
run after the server starts (once across replicas: a keyed job).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from typing import Any, Awaitable, Callable, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import db, notices
from bot.hub import get_hub
from bot.store.notices import EVENT_TYPES, OrderEvent
from connectors.base import MAX_BODY, json_error, setting
from ops import notices as operator_notices

logger = logging.getLogger(__name__)

PATH = "/api/v1/order-events"
SIGNATURE_HEADER = "x-unisono-signature"
_LIMITS = {"event_id": 100, "order_id": 32, "reason": 500, "carrier": 100, "tracking_number": 100}


def sign(body: bytes, secret: str) -> str:
    """The X-Unisono-Signature value of `body`: "sha256=" and the hex HMAC-SHA256 with `secret`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signed(body: bytes, given: str, secret: str) -> bool:
    return hmac.compare_digest(given.strip().encode("utf-8"), sign(body, secret).encode("utf-8"))


class BadEvent(ValueError):
    """The body is not an order event; the message says why (the 400's error)."""


def _text(data: dict[str, Any], name: str, required: bool = False) -> Optional[str]:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadEvent(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise BadEvent(f"{name} must be a string")
    if len(value) > _LIMITS[name]:
        raise BadEvent(f"{name} is longer than {_LIMITS[name]} characters")
    return value.strip()


def parse_event(data: Any) -> OrderEvent:
    """An OrderEvent from the decoded JSON body; raises BadEvent saying what is wrong."""
    if not isinstance(data, dict):
        raise BadEvent("the body must be a JSON object")
    kind = data.get("type")
    if kind not in EVENT_TYPES:
        raise BadEvent(f"type must be one of {', '.join(EVENT_TYPES)}")
    raw_date = data.get("expected_date")
    try:
        expected = dt.date.fromisoformat(raw_date) if raw_date is not None else None
    except (TypeError, ValueError) as error:
        raise BadEvent("expected_date must be YYYY-MM-DD") from error
    return OrderEvent(
        event_id=_text(data, "event_id", required=True) or "",
        order_id=(_text(data, "order_id", required=True) or "").upper(),
        type=kind,
        reason=_text(data, "reason"),
        expected_date=expected,
        carrier=_text(data, "carrier"),
        tracking_number=_text(data, "tracking_number"),
    )


async def receive(request: Request) -> HTTPResponse:
    """The endpoint: signature on the raw bytes first, then the event, then the business."""
    secret = setting("ORDER_EVENTS_SECRET")
    if not secret:
        return json_error(404, "not found")
    body = request.body or b""
    if len(body) > MAX_BODY:
        return json_error(413, "request too large")
    if not signed(body, request.headers.get(SIGNATURE_HEADER) or "", secret):
        logger.warning("order events: refused a request with a missing or invalid signature")
        return json_error(401, "missing or invalid X-Unisono-Signature")
    try:
        event = parse_event(json.loads(body))
    except (ValueError, UnicodeDecodeError) as error:  # BadEvent, JSONDecodeError
        return json_error(400, str(error) if isinstance(error, BadEvent) else "the body must be JSON")
    try:
        recorded = await db.call(operator_notices.raise_event, event, "api")
    except Exception as error:  # noqa: BLE001 - 503 makes the ERP send it again later
        logger.error("order events: could not store event (%s)", type(error).__name__)
        return json_error(503, "temporarily unable to store the event")
    if recorded is None:
        return json_error(404, f"unknown order {event.order_id}")
    if not recorded.new:
        return response.json({"status": "duplicate", "event_id": event.event_id})
    logger.info("order events: stored an event (%s) with %d notice(s)", event.type, len(recorded.notices))
    return response.json({"status": "accepted", "event_id": event.event_id}, status=202)


class OrderEventsInput(InputChannel):
    """The order-events endpoint at the server root, registered through credentials.yml."""

    @classmethod
    def name(cls) -> Text:
        return "order_events"

    def url_prefix(self) -> Text:
        return "/"  # Rasa joins it to /webhooks/: "/" means the root

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hub = get_hub()
        if hub.rasa is None:  # the customer channels attach it too; notices need it either way
            hub.attach_rasa(on_new_message)
        hub.jobs.handle(operator_notices.OVERDUE_JOB, operator_notices.overdue_job)
        try:
            notices.quiet_hours()
        except notices.NoticeConfigError as error:  # said once at start, not only on every event
            logger.error("order notices: %s; no notice can be scheduled until it is fixed", error)
        bp = Blueprint("unisono_order_events")

        @bp.listener("after_server_start")
        async def start(app: Any, loop: Any) -> None:
            hub.start()  # notices are sent by the hub's job loop
            try:
                await db.call(operator_notices.schedule_overdue)
            except Exception:  # noqa: BLE001 - the next start schedules it; the server must come up
                logger.exception("could not schedule the overdue check")

        bp.add_route(receive, PATH, methods=["POST"], name="order_events")
        return bp
