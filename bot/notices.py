"""Proactive order notices: the bot speaks first when an order changes, once, at a decent hour.

An order event (the ERP's webhook, an operator's command, the overdue check: ops/notices.py,
which asks the business who owns the order) is stored once with a notice job for its owner
(bot/store/notices.py). When the job is due, any replica runs it: unless the person said stop,
the notice is one turn of the dialogue, injected through the hub under the conversation's turn
lock as Rasa's external event `EXTERNAL_order_notice` (actions/notices.py says it, from the order,
in the person's language, with the options after a delay). Its reply is stored in the same
transaction that marks the notice sent, and delivered by the outbox on the channel the person last
wrote from; a replay, a second replica or a restart never sends it twice.

Quiet hours (`NOTICE_QUIET_HOURS`, else `notice_quiet_hours` in service.yml, default 21:00-08:00;
"off" disables them) hold a notice until they end in the person's time zone.
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from bot import config, db, jobs, service
from bot.db import utcnow
from bot.store import notices as store
from bot.store.notices import NOTICE_JOB, OrderEvent, Owner, Recorded

logger = logging.getLogger(__name__)

NOTICE_INTENT = "EXTERNAL_order_notice"  # the external event the dialogue answers with the notice
DEFAULT_ZONE = "America/Mexico_City"  # a customer's time zone unless the business knows it
DEFAULT_QUIET_HOURS = "21:00-08:00"
WITH_A_PERSON_RETRY = dt.timedelta(minutes=15)  # a notice waits while an agent holds the conversation

QuietHours = Optional[tuple[dt.time, dt.time]]
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
Clock = Callable[[], dt.datetime]


class NoticeConfigError(ValueError):
    """The quiet hours setting cannot be read (the message says which and why)."""


def parse_quiet_hours(value: Optional[str], source: str = "NOTICE_QUIET_HOURS") -> QuietHours:
    """ "21:00-08:00" as (start, end), wrapping midnight when start > end; None for "off"."""
    text = (value or "").strip().lower()
    if text in ("off", "none", "false", "no"):
        return None
    match = _HOURS.match(text)
    try:
        hours = (dt.time(int(match[1]), int(match[2])), dt.time(int(match[3]), int(match[4]))) if match else None
    except ValueError:  # 25:00
        hours = None
    if hours is None or hours[0] == hours[1]:
        raise NoticeConfigError(f"{source}: {value!r} is not HH:MM-HH:MM (two different times) or off")
    return hours


def quiet_hours() -> QuietHours:
    """The configured quiet hours: the environment (or .env), else service.yml, else 21:00-08:00."""
    given = config.get("NOTICE_QUIET_HOURS")
    if given is not None and given.strip():
        return parse_quiet_hours(given)
    in_file = service.option("notice_quiet_hours")
    if in_file is None:
        return parse_quiet_hours(DEFAULT_QUIET_HOURS)
    return parse_quiet_hours("off" if in_file is False else str(in_file), "service.yml: notice_quiet_hours")


def zone(name: Optional[str]) -> ZoneInfo:
    """A person's time zone; Mexico City when unknown or not a zone."""
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def quiet_until(now: dt.datetime, time_zone: Optional[str], hours: QuietHours) -> Optional[dt.datetime]:
    """When the quiet hours around `now` end in `time_zone` (UTC); None when `now` is not quiet."""
    if hours is None:
        return None
    start, end = hours
    local = now.astimezone(zone(time_zone))
    moment = local.time().replace(tzinfo=None)
    if start < end:
        quiet = start <= moment < end
        day = local.date()
    else:  # across midnight: 21:00-08:00
        quiet = moment >= start or moment < end
        day = local.date() + dt.timedelta(days=1) if moment >= start else local.date()
    if not quiet:
        return None
    return dt.datetime.combine(day, end, tzinfo=local.tzinfo).astimezone(dt.timezone.utc)


def record(event: OrderEvent, owner: Optional[Owner], source: str = "api", now: Optional[dt.datetime] = None,
           hours: Any = ...) -> Recorded:
    """Stores an event once, with its owner's notice due now or when their quiet hours end."""
    if event.type not in store.EVENT_TYPES:
        raise ValueError(f"unknown event type {event.type!r}")
    moment = now or utcnow()
    quiet = quiet_hours() if hours is ... else hours

    def due_at(time_zone: str) -> dt.datetime:
        return quiet_until(moment, time_zone, quiet) or moment

    return store.record_event(event, owner, source, lambda o: zone(o.time_zone).key, due_at)


# -- sending ---------------------------------------------------------------------------------------
Settle = Callable[[Session, list[int]], None]


class Speaker(Protocol):
    """What the notifier needs of the hub (bot/hub.py)."""

    jobs: jobs.Scheduler

    async def speak_first(self, conversation_id: str, channel: str, intent: str, entities: dict[str, Any],
                          settle: Settle) -> list[int]: ...


class Notifier:
    """Runs due notice jobs on a hub: each notice is one turn of the dialogue, stored once."""

    def __init__(self, hub: Speaker, clock: Clock = utcnow, hours: Any = ...) -> None:
        """`clock` and `hours` (the quiet hours; default: the setting, read at each run) are for tests."""
        self.hub = hub
        self.clock = clock
        self.hours = hours
        hub.jobs.handle(NOTICE_JOB, self.run)

    async def run(self, job: jobs.Job) -> None:
        """The job of one notice: sent, held (quiet hours, a person at the desk) or closed."""
        notice_id = int(job.ref or 0)
        plan = await db.call(store.plan, notice_id)
        if plan.action == "done":
            await db.call(store.close, notice_id)
            return
        if plan.action in ("opted_out", "unreachable"):
            await db.call(store.close, notice_id, plan.action)
            logger.info("notice %s not sent: %s", notice_id, plan.action)
            return
        now = self.clock()
        later = quiet_until(now, plan.time_zone, quiet_hours() if self.hours is ... else self.hours)
        if plan.action == "later":
            later = later or now + WITH_A_PERSON_RETRY
        if later is not None:
            await db.call(store.postpone, notice_id, later)
            return
        await self._send(notice_id, plan)

    async def _send(self, notice_id: int, plan: store.Plan) -> None:
        assert plan.conversation_id is not None and plan.channel is not None
        settle = functools.partial(store.mark_sent, notice_id, plan.channel)
        entities = {"notice_id": str(notice_id)}
        if plan.language in ("es", "en"):
            entities["notice_language"] = plan.language
        try:
            replies = await self.hub.speak_first(plan.conversation_id, plan.channel, NOTICE_INTENT, entities, settle)
        except store.AlreadySent:
            logger.info("notice %s was sent by another run", notice_id)
            await db.call(store.close, notice_id)
            return
        logger.info("notice %s stored as message(s) %s on %s", notice_id, replies, plan.channel)


# -- what operators see ----------------------------------------------------------------------------
COUNTS = ("sent", "delivered", "read", "refused", "failed", "opted_out")
STAGES = ("sent", "delivered", "read")  # what a provider reports, in order


@dataclass(frozen=True)
class Day:
    """Notices of one day (in the service's time zone) on one channel."""

    day: dt.date
    channel: str
    counts: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "channel": self.channel, **self.counts}


def daily(since: dt.datetime, time_zone: Optional[ZoneInfo] = None) -> list[Day]:
    """Per day and channel since `since`: notices sent (the provider took them), delivered, read,
    refused (a channel's rule, e.g. WhatsApp's window with no template), failed, and opt-outs.

    A delivered notice counts as sent too, and a read one as delivered: each is a stage reached.
    The KPI API reads the same function.
    """
    local = time_zone or service.calendar().zone
    table: dict[tuple[dt.date, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
    for sent in store.sent_since(since):
        counts = table[(sent.at.astimezone(local).date(), sent.channel)]
        if sent.delivery_status in STAGES:
            for stage in STAGES[: STAGES.index(sent.delivery_status) + 1]:
                counts[stage] += 1
        elif sent.delivery_status in ("refused", "failed"):
            counts[sent.delivery_status] += 1
    for at, channel in store.opt_outs_since(since):
        table[(at.astimezone(local).date(), channel)]["opted_out"] += 1
    return [Day(day, channel, counts) for (day, channel), counts in sorted(table.items())]

