"""When the agents are at their desks: Mon–Fri 9:00–19:00, Sat 9:00–14:00, Mexico City time.

Outside those hours a hand-off still reaches Slack, but the customer also gets a ticket and the
time they will hear back, instead of waiting in silence for a person who went home.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("America/Mexico_City")
# weekday (Monday = 0) -> (opening hour, closing hour); Sunday closed.
HOURS: dict[int, tuple[int, int]] = {0: (9, 19), 1: (9, 19), 2: (9, 19), 3: (9, 19), 4: (9, 19), 5: (9, 14)}


def _aware(now: dt.datetime) -> dt.datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("naive datetime refused: pass an aware datetime")
    return now.astimezone(LOCAL_TZ)


def is_open(now: dt.datetime) -> bool:
    """Whether agents are working at `now` (an aware datetime)."""
    local = _aware(now)
    hours = HOURS.get(local.weekday())
    return hours is not None and hours[0] <= local.hour < hours[1]


def next_opening(now: dt.datetime) -> Optional[dt.datetime]:
    """The next opening time after `now` (aware, Mexico City), or None while open."""
    local = _aware(now)
    if is_open(local):
        return None
    for offset in range(8):
        day = local.date() + dt.timedelta(days=offset)
        hours = HOURS.get(day.weekday())
        if hours is None:
            continue
        opening = dt.datetime.combine(day, dt.time(hours[0]), tzinfo=LOCAL_TZ)
        if opening > local:
            return opening
    raise AssertionError("a week always has an opening")  # pragma: no cover
