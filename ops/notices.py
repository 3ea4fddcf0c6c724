"""Order notices, the operator's side: raising an order event (the ERP's webhook, the command line,
the overdue check) with what the business knows of the order's owner, and the daily counts.

The runtime core stores the event and sends its notice once (bot/notices.py) but cannot ask the
business who owns an order: this room can, so every way an event comes in goes through
`raise_event` here.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import replace
from typing import Optional

from actions.backend import get_backend
from actions.backend.base import Backend
from bot import db, jobs, notices, service
from bot.db import session_scope, utcnow
from bot.store.notices import OrderEvent, Owner, Recorded

logger = logging.getLogger(__name__)

OVERDUE_JOB = "orders_overdue"  # the periodic look for orders whose expected date passed
OVERDUE_KEY = "orders_overdue"  # one pending look at a time, however many replicas
OVERDUE_EVERY = dt.timedelta(hours=1)


def owner_of(order_id: str, backend: Backend) -> Optional[tuple[str, Optional[Owner]]]:
    """(the order's canonical id, its owner as the business knows them); None for an unknown order."""
    order = backend.order(order_id)
    if order is None:
        return None
    customer = backend.customer(order.customer_id)
    if customer is None:
        return order.id, None
    return order.id, Owner(customer.id, customer.name, customer.phone, customer.email)


def raise_event(event: OrderEvent, source: str = "api", backend: Optional[Backend] = None,
                now: Optional[dt.datetime] = None) -> Optional[Recorded]:
    """Stores an order event and schedules its owner's notice; None when the order is unknown.

    A replayed `event_id` is stored once: Recorded(new=False) the second time.
    """
    found = owner_of(event.order_id, backend or get_backend())
    if found is None:
        return None
    order_id, owner = found
    return notices.record(replace(event, order_id=order_id), owner, source, now)


# -- the overdue check ------------------------------------------------------------------------------
def overdue_events(today: dt.date, backend: Backend) -> list[OrderEvent]:
    """A `delayed` event for each order whose expected date passed undelivered: its id names the
    order and that date, so each is raised once per expected date."""
    return [OrderEvent(f"overdue:{order.id}:{order.expected_date.isoformat()}", order.id, "delayed")
            for order in backend.orders_overdue(today) if order.expected_date is not None]


def check_overdue(backend: Optional[Backend] = None, now: Optional[dt.datetime] = None) -> int:
    """Raises the overdue orders' events (today in the service's time zone); how many were new."""
    backend = backend or get_backend()
    moment = now or utcnow()
    today = service.calendar().local(moment).date()
    new = 0
    for event in overdue_events(today, backend):
        recorded = raise_event(event, "overdue", backend, moment)
        new += bool(recorded and recorded.new)
    if new:
        logger.info("overdue check: %d order(s) late, notices scheduled", new)
    return new


def schedule_overdue(due_at: Optional[dt.datetime] = None) -> None:
    """The next overdue check (a no-op while one is pending: replicas starting set it once)."""
    jobs.schedule(OVERDUE_JOB, due_at=due_at or utcnow(), key=OVERDUE_KEY)


def _again(job_id: int, due_at: dt.datetime) -> None:
    with session_scope() as session:
        jobs.finish(session, job_id)
        jobs.add(session, OVERDUE_JOB, due_at=due_at, key=OVERDUE_KEY)


async def overdue_job(job: jobs.Job) -> None:
    """The periodic job: one check, then the next one an hour later."""
    await db.call(check_overdue)
    await db.call(_again, job.id, utcnow() + OVERDUE_EVERY)


# -- what operators see ----------------------------------------------------------------------------
_SINCE = re.compile(r"^(\d+)\s*([dhw])$")


def parse_since(text: str) -> dt.timedelta:
    """ "7d", "24h", "2w" as a duration."""
    match = _SINCE.match(text.strip().lower())
    if not match:
        raise ValueError(f"{text!r}: expected a number and d, h or w, e.g. 7d")
    amount, unit = int(match.group(1)), match.group(2)
    return {"d": dt.timedelta(days=amount), "h": dt.timedelta(hours=amount), "w": dt.timedelta(weeks=amount)}[unit]


def report(since: dt.timedelta, now: Optional[dt.datetime] = None) -> list[notices.Day]:
    """Notices per day and channel over the last `since`."""
    return notices.daily((now or utcnow()) - since)


def table(days: list[notices.Day]) -> str:
    """The counts as a plain-text table, one row per day and channel."""
    header = ("day", "channel", *notices.COUNTS)
    rows = [header] + [(d.day.isoformat(), d.channel, *(str(d.counts[name]) for name in notices.COUNTS))
                       for d in days]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines) if days else "no notices in that period"
