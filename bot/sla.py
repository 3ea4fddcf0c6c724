"""Service levels in business time: what we promise, when it falls due, and what is due soonest.

The targets are in service.yml (`sla:`), beside the hours they are counted in: per ticket area
and priority, business hours until the ticket is answered (default: urgent 4, high 8, normal 24,
low 48), and business minutes until a person's first reply to a hand-off (default 30). Business
time skips closed hours and holidays (bot/service.py), so a ticket opened at 00:27 promises an
answer at a time people work.

Each promise being timed is a clock (bot/store/sla.py) with two durable timers (bot/jobs.py):
`sla_warning` at 80 % of its business time and `sla_breach` at 100 %, keyed per clock, so that
any replica may set them and exactly one runs each. The agents' desk handles them
(connectors/slack/sla_alerts.py); this module starts, stops and reads the clocks. Tickets are
timed from where they are opened (actions/); hand-offs from the desk's pass over its queue.

For the KPIs and the dashboard: `figures(since, until)` and `open_items(now)`.
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import yaml

from bot import jobs, service
from bot.db import session_scope, utcnow
from bot.service import Calendar, ServiceConfigError
from bot.store import sla as store
from bot.store.sla import Clock

PRIORITIES = ("urgent", "high", "normal", "low")
DEFAULT_TICKET_HOURS = {"urgent": 4.0, "high": 8.0, "normal": 24.0, "low": 48.0}
DEFAULT_HANDOFF_MINUTES = 30.0
WARN_SHARE = 0.8  # the warning comes when 80 % of the business time has passed
WARNING_JOB, BREACH_JOB = "sla_warning", "sla_breach"
LEVEL_OF_JOB = {WARNING_JOB: "warned", BREACH_JOB: "breached"}
CHANNELS = ("whatsapp", "telegram", "webchat")  # the customer channels the KPIs count


# -- targets (service.yml) ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Targets:
    """Business-time targets: hours per ticket area and priority, minutes to a hand-off's first reply."""

    handoff_minutes: float = DEFAULT_HANDOFF_MINUTES
    tickets: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def ticket_hours(self, area: str, priority: str) -> float:
        """The area's target for the priority; an area not listed has the defaults."""
        if priority not in PRIORITIES:
            raise ValueError(f"unknown ticket priority {priority!r}")
        return float(self.tickets.get(area, {}).get(priority, DEFAULT_TICKET_HOURS[priority]))


def _positive(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise ServiceConfigError(f"{where}: {value!r} is not a number") from error
    if not number > 0:
        raise ServiceConfigError(f"{where}: {value!r} must be more than 0")
    return number


def parse(data: Any, source: str = "service.yml") -> Targets:
    """The `sla:` section of the parsed service.yml (missing keys take the defaults)."""
    section = data.get("sla") if isinstance(data, dict) else None
    if section is None:
        return Targets()
    if not isinstance(section, dict):
        raise ServiceConfigError(f"{source}: sla must be a mapping with handoff_first_reply_minutes and tickets")
    minutes = _positive(section.get("handoff_first_reply_minutes", DEFAULT_HANDOFF_MINUTES),
                        f"{source}: sla.handoff_first_reply_minutes")
    areas = section.get("tickets") or {}
    if not isinstance(areas, dict):
        raise ServiceConfigError(f"{source}: sla.tickets must map each area to hours per priority")
    tickets: dict[str, dict[str, float]] = {}
    for area, hours in areas.items():
        where = f"{source}: sla.tickets.{area}"
        if not isinstance(hours, dict) or set(map(str, hours)) - set(PRIORITIES):
            raise ServiceConfigError(f"{where}: expected hours for {', '.join(PRIORITIES)}")
        tickets[str(area)] = {str(p): _positive(h, f"{where}.{p}") for p, h in hours.items()}
    return Targets(minutes, tickets)


def load(path: Optional[Path] = None) -> Targets:
    """The targets in `path` (default: service.yml at the repository root; the defaults without it)."""
    path = path or service.SERVICE_FILE
    if not path.exists():
        return Targets()
    with path.open(encoding="utf-8") as handle:
        return parse(yaml.safe_load(handle), path.name)


@functools.lru_cache(maxsize=1)
def targets() -> Targets:
    """The service's targets, read once per process."""
    return load()


# -- due times -----------------------------------------------------------------------------------------
def ticket_due(area: str, priority: str, opened_at: dt.datetime, calendar: Optional[Calendar] = None) -> dt.datetime:
    """When a ticket opened at `opened_at` must be answered: its target in business hours."""
    calendar = calendar or service.calendar()
    return calendar.add_business(opened_at, targets().ticket_hours(area, priority) * 3600)


def handoff_due(handed_off_at: dt.datetime, calendar: Optional[Calendar] = None) -> dt.datetime:
    """When a person must first answer a hand-off requested at `handed_off_at`."""
    calendar = calendar or service.calendar()
    return calendar.add_business(handed_off_at, targets().handoff_minutes * 60)


def warn_at(started_at: dt.datetime, due_at: dt.datetime, calendar: Optional[Calendar] = None) -> dt.datetime:
    """80 % of the business time from `started_at` to `due_at`."""
    calendar = calendar or service.calendar()
    return calendar.add_business(started_at, WARN_SHARE * calendar.business_seconds(started_at, due_at))


def episode_of(moment: dt.datetime) -> str:
    """A clock's episode from its start (milliseconds), as the desk stamps a hand-off's keys."""
    return str(int(moment.timestamp() * 1000))


def job_key(job_kind: str, clock: Clock) -> str:
    return f"{job_kind}:{clock.kind}:{clock.ref}:{clock.episode}"


# -- starting and stopping clocks ---------------------------------------------------------------------
def _start(clock: Clock) -> bool:
    """The clock and its two timers, in one transaction; False when it already ran."""
    with session_scope() as session:
        if not store.add_clock(session, clock):
            return False
        payload = {"kind": clock.kind, "episode": clock.episode}
        for job_kind, due in ((WARNING_JOB, clock.warn_at), (BREACH_JOB, clock.due_at)):
            jobs.add(session, job_kind, clock.ref, due_at=due, key=job_key(job_kind, clock), payload=payload)
    return True


def start_ticket(ticket_id: str, opened_at: dt.datetime, due_at: dt.datetime, conversation_id: Optional[str] = None,
                 area: Optional[str] = None, priority: Optional[str] = None) -> bool:
    """Times a ticket just opened, due when its backend promised; False when it already was."""
    calendar = service.calendar()
    clock = Clock("ticket", ticket_id, episode_of(opened_at), store.channel_of(conversation_id), opened_at,
                  warn_at(opened_at, due_at, calendar), due_at, detail={"area": area, "priority": priority})
    return _start(clock)


def start_handoffs(calendar: Optional[Calendar] = None) -> int:
    """Times every unanswered hand-off that has no clock yet; returns how many it started."""
    calendar = calendar or service.calendar()
    waiting = store.open_handoffs()
    timed = {(c.ref, c.episode) for c in store.clocks_of("handoff", [h.conversation_id for h in waiting])}
    started = 0
    for handoff in waiting:
        episode = episode_of(handoff.handed_off_at)
        if (handoff.conversation_id, episode) in timed:
            continue
        due = handoff_due(handoff.handed_off_at, calendar)
        clock = Clock("handoff", handoff.conversation_id, episode, handoff.channel, handoff.handed_off_at,
                      warn_at(handoff.handed_off_at, due, calendar), due,
                      detail={"minutes": targets().handoff_minutes})
        started += _start(clock)
    return started


def stop(clock: Clock, at: Optional[dt.datetime] = None) -> bool:
    """Stops a clock and removes its pending timers; False when it was not running."""
    with session_scope() as session:
        stopped = store.stop(session, clock.kind, clock.ref, clock.episode, at or utcnow())
        jobs.cancel(session, [job_key(WARNING_JOB, clock), job_key(BREACH_JOB, clock)])
    return stopped


def handoff_open(conversation_id: str, episode: str) -> bool:
    """Whether this hand-off is still with people and nobody has answered the customer."""
    return any(episode_of(h.handed_off_at) == episode for h in store.open_handoffs(conversation_id))


def sweep_handoffs(at: Optional[dt.datetime] = None) -> int:
    """Stops the clocks of hand-offs answered or ended since; returns how many."""
    clocks = store.running("handoff")  # read before the queue: a clock started meanwhile is kept
    still_open = {(h.conversation_id, episode_of(h.handed_off_at)) for h in store.open_handoffs()}
    return sum(stop(c, at) for c in clocks if (c.ref, c.episode) not in still_open)


# -- for the KPIs and the dashboard -------------------------------------------------------------------
def figures(since: dt.datetime, until: dt.datetime, business_hours: bool = False) -> dict[str, dict[str, int]]:
    """Alerts sent in [since, until) per customer channel: {"whatsapp": {"warned": n, "breached": n},
    ...}. An alert is a count, not a duration: `business_hours` changes nothing."""
    counts = {channel: {"warned": 0, "breached": 0} for channel in CHANNELS}
    for channel, level, count in store.alert_counts(since, until):
        if channel in counts:
            counts[channel][level] += count
    return counts


def _item(kind: str, ref: str, channel: Optional[str], warn: dt.datetime, due: dt.datetime, now: dt.datetime,
          calendar: Calendar) -> dict[str, Any]:
    left = calendar.business_seconds(now, due) if now < due else -calendar.business_seconds(due, now)
    level = "breached" if now >= due else "warned" if now >= warn else "ok"
    return {"kind": kind, "ref": ref, "channel": channel, "due_at": calendar.local(due).isoformat(),
            "seconds_left": int(round(left)), "level": level}


def open_items(now: dt.datetime) -> list[dict]:
    """Open hand-offs (no agent reply yet) and open tickets, with the business seconds left to
    their due time (negative once breached) and their level by the clock ("ok", "warned" past
    80 %, "breached" past due), soonest due first. Tickets are open until their clock is stopped
    (the desk checks the backend's statuses; see connectors/slack/sla_alerts.py)."""
    calendar = service.calendar()
    waiting = store.open_handoffs()
    clocks = {(c.ref, c.episode): c for c in store.clocks_of("handoff", [h.conversation_id for h in waiting])}
    items = []
    for handoff in waiting:
        clock = clocks.get((handoff.conversation_id, episode_of(handoff.handed_off_at)))
        due = clock.due_at if clock else handoff_due(handoff.handed_off_at, calendar)
        warn = clock.warn_at if clock else warn_at(handoff.handed_off_at, due, calendar)
        items.append(_item("handoff", handoff.conversation_id, handoff.channel, warn, due, now, calendar))
    for clock in store.running("ticket"):
        items.append(_item("ticket", clock.ref, clock.channel, clock.warn_at, clock.due_at, now, calendar))
    return sorted(items, key=lambda item: (item["seconds_left"], item["due_at"]))
