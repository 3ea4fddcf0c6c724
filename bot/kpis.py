"""The service's figures over a period, per channel: the one query layer behind the admin API, its
CSV and `python -m ops kpis` (definitions: docs/kpis.md).

It reads the care cycles (bot/store/cycles.py): sessions that *started* in [since, until) and
hand-offs *requested* in it, each counted in its own channel ("all": every channel, including
any not listed, such as the terminal's). Durations were stored when they became known, in
wall-clock and in business seconds, so a period costs a few aggregate queries whatever its size;
percentiles are computed by the database with window functions (on SQLite and PostgreSQL alike),
interpolated linearly between the two nearest values, as PostgreSQL's percentile_cont does.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy import bindparam, case, func, select, text
from sqlalchemy.orm import Session

from bot import service
from bot.db import UTCDateTime, session_scope, utcnow
from bot.log_privacy import mask
from bot.store.cycles import FALLBACK_RESPONSES, CareSession, Handoff

CHANNELS = ("whatsapp", "telegram", "webchat")
ALL = "all"
DEFAULT_DAYS = 7
MAX_DAYS = 400  # a longer period is refused (400): more than a year and a month at once says nothing
TOP_MESSAGES = 10
MAX_SHOWN_TEXT = 200
PERCENTILES = (50, 90)


class BadPeriod(ValueError):
    """A period the figures cannot be asked for; `field` is the parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Period:
    since: dt.datetime
    until: dt.datetime
    business_hours: bool = False


_RELATIVE = re.compile(r"^(\d{1,4})\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_instant(value: str, now: dt.datetime, field: str) -> dt.datetime:
    """"now", "7d" (before now; also m, h, w), a date (its midnight in the service's time zone) or
    an ISO 8601 time (in the service's time zone unless it names its own)."""
    value = value.strip()
    relative = _RELATIVE.match(value.lower())
    if value.lower() == "now":
        return now
    if relative:
        return now - dt.timedelta(**{_UNITS[relative.group(2)]: int(relative.group(1))})
    zone = service.calendar().zone
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(0), tzinfo=zone)
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadPeriod(field, f"{field}: {value[:40]!r} is not an ISO 8601 date or time, 'now' or like '7d'") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def parse_flag(value: Any, field: str = "business_hours") -> bool:
    """0/1 (also false/true, no/yes); absent: 0."""
    if value is None or value is False or value is True:
        return bool(value)
    lowered = str(value).strip().lower()
    if lowered in ("", "0", "false", "no"):
        return False
    if lowered in ("1", "true", "yes"):
        return True
    raise BadPeriod(field, f"{field}: must be 0 or 1")


def period(since: Optional[str] = None, until: Optional[str] = None, business_hours: Any = None,
           now: Optional[dt.datetime] = None) -> Period:
    """The period asked for: `until` defaults to now, `since` to a week before `until`."""
    now = now or utcnow()
    end = parse_instant(until, now, "until") if until else now
    start = parse_instant(since, now, "since") if since else end - dt.timedelta(days=DEFAULT_DAYS)
    if end <= start:
        raise BadPeriod("until", "until must be later than since")
    if end - start > dt.timedelta(days=MAX_DAYS):
        raise BadPeriod("since", f"the period is longer than {MAX_DAYS} days; ask for a shorter one")
    return Period(start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc), parse_flag(business_hours))


# -- the SLA side (bot/sla.py, the SLA timers) ------------------------------------------------------
def sla_figures(since: dt.datetime, until: dt.datetime, business_hours: bool) -> dict[str, dict[str, int]]:
    """SLA warnings and breaches per channel in the period: none until SLA timers exist."""
    return {channel: {"warned": 0, "breached": 0} for channel in CHANNELS}


def open_items(now: Optional[dt.datetime] = None) -> list[dict[str, Any]]:
    """Open hand-offs and tickets by time left to their SLA: none until SLA timers exist."""
    return []


# -- queries --------------------------------------------------------------------------------------
def _in(column: Any, p: Period) -> Any:
    return (column >= p.since) & (column < p.until)


def _session_counts(session: Session, p: Period) -> dict[str, dict[str, int]]:
    rows = session.execute(
        select(CareSession.channel, func.count(), func.sum(case((CareSession.handoffs == 0, 1), else_=0)),
               func.sum(CareSession.messages), func.sum(CareSession.fallbacks))
        .where(_in(CareSession.started_at, p)).group_by(CareSession.channel)
    ).all()
    return {channel: {"sessions": n, "contained": int(contained or 0), "customer_messages": int(messages or 0),
                      "fallback_messages": int(fallbacks or 0)} for channel, n, contained, messages, fallbacks in rows}


def _handoff_counts(session: Session, p: Period) -> dict[str, dict[str, int]]:
    abandoned = case(((Handoff.ended_at.is_not(None)) & (Handoff.first_reply_at.is_(None)), 1), else_=0)
    scores = [func.sum(case((Handoff.csat == score, 1), else_=0)) for score in range(1, 6)]
    rows = session.execute(
        select(Handoff.channel, func.count(), func.sum(abandoned), func.count(Handoff.csat_asked_at),
               func.count(Handoff.csat), func.sum(Handoff.csat), *scores)
        .where(_in(Handoff.requested_at, p)).group_by(Handoff.channel)
    ).all()
    return {row[0]: {"handoffs": row[1], "abandoned": int(row[2] or 0), "csat_sent": row[3], "csat_responses": row[4],
                     "csat_total": int(row[5] or 0), **{f"csat_{s}": int(row[5 + s] or 0) for s in range(1, 6)}}
            for row in rows}


# Per group k (a channel, and '*' for all), the values' count and sum, and the values at the ranks
# percentile interpolation needs: 1 + floor((n-1)p) and 1 + ceil((n-1)p), in integer arithmetic.
_RANKED = """
WITH v AS (
  SELECT {channel} AS k, {value} AS x FROM {table} WHERE {time} >= :since AND {time} < :until AND {value} IS NOT NULL
  UNION ALL
  SELECT '*' AS k, {value} AS x FROM {table} WHERE {time} >= :since AND {time} < :until AND {value} IS NOT NULL
), r AS (
  SELECT k, x, row_number() OVER (PARTITION BY k ORDER BY x) AS rn, count(*) OVER (PARTITION BY k) AS n,
         sum(x) OVER (PARTITION BY k) AS total
  FROM v
)
SELECT k, n, total, rn, x FROM r WHERE {ranks}
"""


def _rank_condition() -> str:
    ranks = []
    for p in PERCENTILES:
        ranks += [f"rn = 1 + ((n - 1) * {p}) / 100", f"rn = 1 + ((n - 1) * {p} + 99) / 100"]
    return " OR ".join(ranks)


def _durations(session: Session, table: str, value: str, time: str, p: Period) -> dict[str, dict[str, Any]]:
    """{group: {"count", "mean", "p50", "p90"}} of a stored duration column."""
    statement = text(_RANKED.format(channel="channel", value=value, table=table, time=time, ranks=_rank_condition()))
    statement = statement.bindparams(bindparam("since", type_=UTCDateTime), bindparam("until", type_=UTCDateTime))
    found: dict[str, tuple[int, float, dict[int, float]]] = {}
    for k, n, total, rn, x in session.execute(statement, {"since": p.since, "until": p.until}):
        found.setdefault(k, (int(n), float(total), {}))[2][int(rn)] = float(x)
    return {k: _summary(n, total, ranked) for k, (n, total, ranked) in found.items()}


def _summary(n: int, total: float, ranked: dict[int, float]) -> dict[str, Any]:
    def percentile(p: int) -> float:
        position = (n - 1) * p / 100
        low, high = math.floor(position), math.ceil(position)
        value = ranked[low + 1] + (position - low) * (ranked[high + 1] - ranked[low + 1])
        return round(value, 3)

    return {"count": n, "mean": round(total / n, 3), **{f"p{p}": percentile(p) for p in PERCENTILES}}


def _not_understood(session: Session, p: Period) -> dict[str, list[dict[str, Any]]]:
    """The customer messages the fallback answered most often, per channel and '*' (masked)."""
    statement = text(
        "SELECT c.channel, c.text, count(DISTINCT c.id) FROM messages r JOIN messages c ON c.id = r.reply_to "
        "WHERE r.response IN :responses AND r.created_at >= :since AND r.created_at < :until AND c.text IS NOT NULL "
        "GROUP BY c.channel, c.text"
    ).bindparams(bindparam("responses", expanding=True), bindparam("since", type_=UTCDateTime),
                 bindparam("until", type_=UTCDateTime))
    counts: dict[str, Counter] = {}
    rows = session.execute(statement, {"responses": sorted(FALLBACK_RESPONSES), "since": p.since, "until": p.until})
    for channel, body, n in rows:
        shown = mask(" ".join(str(body).split()))[:MAX_SHOWN_TEXT]
        if shown:
            counts.setdefault(channel, Counter())[shown] += n
            counts.setdefault("*", Counter())[shown] += n
    return {k: [{"text": t, "count": n} for t, n in sorted(c.items(), key=lambda item: (-item[1], item[0]))[:TOP_MESSAGES]]
            for k, c in counts.items()}


def _daily(session: Session, p: Period) -> list[dict[str, Any]]:
    """Sessions per service-local day and channel, every day of the period present."""
    rows = session.execute(
        select(CareSession.day, CareSession.channel, func.count()).where(_in(CareSession.started_at, p))
        .group_by(CareSession.day, CareSession.channel)
    ).all()
    calendar = service.calendar()
    first = calendar.local(p.since).date()
    last = calendar.local(p.until - dt.timedelta(microseconds=1)).date()
    days = {first + dt.timedelta(days=i): {c: 0 for c in (*CHANNELS, ALL)} for i in range((last - first).days + 1)}
    for day, channel, n in rows:
        counts = days.get(day)
        if counts is not None:
            if channel in counts:
                counts[channel] += n
            counts[ALL] += n
    return [{"day": day.isoformat(), **counts} for day, counts in days.items()]


# -- the figures ----------------------------------------------------------------------------------
def _rate(part: int, whole: int) -> float:
    """part / whole as a fraction rounded to 4 places; 0 when there is nothing to divide."""
    return round(part / whole, 4) if whole else 0.0


def _added(rows: dict[str, dict[str, int]]) -> dict[str, int]:
    total: Counter = Counter()
    for row in rows.values():
        total.update(row)
    return dict(total)


def _csat(h: dict[str, int]) -> dict[str, Any]:
    responses = h.get("csat_responses", 0)
    good = h.get("csat_4", 0) + h.get("csat_5", 0)
    return {
        "sent": h.get("csat_sent", 0),
        "responses": responses,
        "mean": round(h.get("csat_total", 0) / responses, 2) if responses else None,
        "score": round(100 * good / responses, 1) if responses else None,
        "distribution": {str(score): h.get(f"csat_{score}", 0) for score in range(1, 6)},
    }


def _block(s: dict[str, int], h: dict[str, int], durations: dict[str, dict[str, Any]],
           words: list[dict[str, Any]], sla: dict[str, int]) -> dict[str, Any]:
    """One channel's figures (or all channels'), every key present."""
    empty = {"count": 0, "mean": None, "p50": None, "p90": None}
    sessions, handoffs = s.get("sessions", 0), h.get("handoffs", 0)
    return {
        "sessions": sessions,
        "contained": s.get("contained", 0),
        "containment_rate": _rate(s.get("contained", 0), sessions),
        "handoffs": handoffs,
        "handoff_rate": _rate(handoffs, sessions),
        "abandoned": h.get("abandoned", 0),
        **{key: durations.get(key) or dict(empty) for key in ("first_response_bot_s", "first_response_human_s",
                                                               "resolution_s")},
        "csat": _csat(h),
        "customer_messages": s.get("customer_messages", 0),
        "fallback_messages": s.get("fallback_messages", 0),
        "fallback_rate": _rate(s.get("fallback_messages", 0), s.get("customer_messages", 0)),
        "not_understood": words,
        "sla": {"warned": sla.get("warned", 0), "breached": sla.get("breached", 0)},
    }


def _all_durations(session: Session, p: Period) -> dict[str, dict[str, dict[str, Any]]]:
    """{group: {kpi: summary}} for the three durations, wall-clock or in business hours."""
    suffix = "_business_s" if p.business_hours else "_s"
    found = {
        "first_response_bot_s": _durations(session, "care_sessions", "reply" + suffix, "started_at", p),
        "first_response_human_s": _durations(session, "handoffs", "reply" + suffix, "requested_at", p),
        "resolution_s": _durations(session, "handoffs", "resolution" + suffix, "requested_at", p),
    }
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    for kpi, by_group in found.items():
        for group, summary in by_group.items():
            groups.setdefault(group, {})[kpi] = summary
    return groups


def figures(p: Period, url: Optional[str] = None) -> dict[str, Any]:
    """Every KPI of the period: {"since", "until", "business_hours", "time_zone", "channels":
    {"whatsapp", "telegram", "webchat", "all"}, "daily"} (the admin API's body)."""
    with session_scope(url) as session:
        sessions, handoffs = _session_counts(session, p), _handoff_counts(session, p)
        durations, words = _all_durations(session, p), _not_understood(session, p)
        daily = _daily(session, p)
    sla = sla_figures(p.since, p.until, p.business_hours)
    channels = {c: _block(sessions.get(c, {}), handoffs.get(c, {}), durations.get(c, {}), words.get(c, []),
                          sla.get(c, {})) for c in CHANNELS}
    channels[ALL] = _block(_added(sessions), _added(handoffs), durations.get("*", {}), words.get("*", []),
                           _added(sla))
    return {
        "since": p.since.astimezone(dt.timezone.utc).isoformat(),
        "until": p.until.astimezone(dt.timezone.utc).isoformat(),
        "business_hours": p.business_hours,
        "time_zone": service.calendar().zone.key,
        "channels": channels,
        "daily": daily,
    }


# -- one row per channel (the CSV export, the terminal table) ---------------------------------------
def rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The figures flattened, one dict per channel (all last), columns in a stable order."""
    out = []
    for channel in (*CHANNELS, ALL):
        k = result["channels"][channel]
        row: dict[str, Any] = {"channel": channel, "since": result["since"], "until": result["until"],
                               "business_hours": int(result["business_hours"])}
        for key in ("sessions", "contained", "containment_rate", "handoffs", "handoff_rate", "abandoned"):
            row[key] = k[key]
        for key in ("first_response_bot_s", "first_response_human_s", "resolution_s"):
            row.update({f"{key}_{stat}": k[key][stat] for stat in ("count", "mean", "p50", "p90")})
        row.update({f"csat_{key}": k["csat"][key] for key in ("sent", "responses", "mean", "score")})
        row.update({f"csat_{score}": k["csat"]["distribution"][str(score)] for score in range(1, 6)})
        row.update(customer_messages=k["customer_messages"], fallback_messages=k["fallback_messages"],
                   fallback_rate=k["fallback_rate"], sla_warned=k["sla"]["warned"], sla_breached=k["sla"]["breached"])
        out.append(row)
    return out
