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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Optional, TypeVar

from sqlalchemy import bindparam, case, func, select, text
from sqlalchemy.orm import Session

from bot import service, sla
from bot.db import UTCDateTime, get_engine, session_scope, utcnow
from bot.erasure import ERASED
from bot.log_privacy import mask
from bot.store.cycles import FALLBACK_RESPONSES, CareSession, Handoff
from bot.store.models import Message
from bot.store.notices import Notice, NoticeConsent

CHANNELS = ("whatsapp", "telegram", "webchat")
ALL = "all"
DEFAULT_DAYS = 7
MAX_DAYS = 400  # a longer period is refused (400): more than a year and a month at once says nothing
TOP_MESSAGES = 10
MAX_SHOWN_TEXT = 200
PERCENTILES = (50, 90)
T = TypeVar("T")
WORK_MEM = "64MB"  # PostgreSQL, for the percentiles' sorts of one KPI call (SET LOCAL: this transaction only)


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
    """SLA warnings and breaches per channel: the alerts sent in the period (docs/sla.md)."""
    return sla.figures(since, until, business_hours)


def open_items(now: Optional[dt.datetime] = None) -> list[dict[str, Any]]:
    """Open hand-offs and tickets by business time left to their SLA, soonest due first."""
    return sla.open_items(now or utcnow())


# -- queries --------------------------------------------------------------------------------------
def _in(column: Any, p: Period) -> Any:
    return (column >= p.since) & (column < p.until)


def _suffix(p: Period) -> str:
    """Which stored durations: wall-clock seconds or business seconds."""
    return "_business_s" if p.business_hours else "_s"


def _session_counts(session: Session, p: Period) -> tuple[dict[str, Counter], dict[tuple[dt.date, str], int]]:
    """Per channel: sessions, contained, customer and fallback messages, and the count and sum of
    the bot's first responses; and sessions per (service-local day, channel). One aggregate."""
    reply = getattr(CareSession, "reply" + _suffix(p))
    rows = session.execute(
        select(CareSession.day, CareSession.channel, func.count(),
               func.sum(case((CareSession.handoffs == 0, 1), else_=0)), func.sum(CareSession.messages),
               func.sum(CareSession.fallbacks), func.count(reply), func.sum(reply))
        .where(_in(CareSession.started_at, p)).group_by(CareSession.day, CareSession.channel)
    ).all()
    channels: dict[str, Counter] = {}
    days: dict[tuple[dt.date, str], int] = {}
    for day, channel, n, contained, messages, fallbacks, replies, replied in rows:
        channels.setdefault(channel, Counter()).update(
            sessions=n, contained=int(contained or 0), customer_messages=int(messages or 0),
            fallback_messages=int(fallbacks or 0), bot_n=replies, bot_total=float(replied or 0.0))
        days[(day, channel)] = n
    return channels, days


def _handoff_counts(session: Session, p: Period) -> dict[str, Counter]:
    """Per channel: hand-offs, abandoned, the survey's figures, and the count and sum of the
    agents' first responses and of the resolutions."""
    reply, resolution = (getattr(Handoff, name + _suffix(p)) for name in ("reply", "resolution"))
    abandoned = case(((Handoff.ended_at.is_not(None)) & (Handoff.first_reply_at.is_(None)), 1), else_=0)
    scores = [func.sum(case((Handoff.csat == score, 1), else_=0)) for score in range(1, 6)]
    rows = session.execute(
        select(Handoff.channel, func.count(), func.sum(abandoned), func.count(Handoff.csat_asked_at),
               func.count(Handoff.csat), func.sum(Handoff.csat), func.count(reply), func.sum(reply),
               func.count(resolution), func.sum(resolution), *scores)
        .where(_in(Handoff.requested_at, p)).group_by(Handoff.channel)
    ).all()
    names = ("handoffs", "abandoned", "csat_sent", "csat_responses", "csat_total", "human_n", "human_total",
             "resolution_n", "resolution_total", *(f"csat_{s}" for s in range(1, 6)))
    return {row[0]: Counter({name: value or 0 for name, value in zip(names, row[1:])}) for row in rows}


def _ranks(n: int) -> dict[int, tuple[int, int, float]]:
    """For each percentile: the 1-based ranks of the two values around it, and the weight of the second."""
    out = {}
    for pct in PERCENTILES:
        position = (n - 1) * pct / 100
        low = math.floor(position)
        out[pct] = (low + 1, math.ceil(position) + 1, position - low)
    return out


# SQLite has no percentile_cont: per group k (a channel, and '*' for all), the values at the ranks
# interpolation needs, 1 + floor((n-1)p) and 1 + ceil((n-1)p), found with window functions.
_RANKED = """
WITH v AS (
  SELECT channel AS k, {value} AS x FROM {table} WHERE {time} >= :since AND {time} < :until AND {value} IS NOT NULL
  UNION ALL
  SELECT '*' AS k, {value} AS x FROM {table} WHERE {time} >= :since AND {time} < :until AND {value} IS NOT NULL
), r AS (
  SELECT k, x, row_number() OVER (PARTITION BY k ORDER BY x) AS rn, count(*) OVER (PARTITION BY k) AS n FROM v
)
SELECT k, n, rn, x FROM r WHERE {ranks}
"""
# PostgreSQL's own, in one scan: the channels by FILTER (no sort by channel), then all of them.
_CONTINUOUS = "percentile_cont(ARRAY[{fractions}]) WITHIN GROUP (ORDER BY {value})"


def _ranked(session: Session, table: str, value: str, time: str, p: Period) -> dict[str, dict[str, float]]:
    ranks = " OR ".join(f"rn = 1 + ((n - 1) * {pct}) / 100 OR rn = 1 + ((n - 1) * {pct} + 99) / 100"
                        for pct in PERCENTILES)
    statement = text(_RANKED.format(value=value, table=table, time=time, ranks=ranks)).bindparams(
        bindparam("since", type_=UTCDateTime), bindparam("until", type_=UTCDateTime))
    found: dict[str, tuple[int, dict[int, float]]] = {}
    for k, n, rn, x in session.execute(statement, {"since": p.since, "until": p.until}):
        found.setdefault(k, (int(n), {}))[1][int(rn)] = float(x)
    out = {}
    for k, (n, values) in found.items():
        out[k] = {f"p{pct}": values[low] + weight * (values[high] - values[low])
                  for pct, (low, high, weight) in _ranks(n).items()}
    return out


def _continuous(session: Session, table: str, value: str, time: str, p: Period) -> dict[str, dict[str, float]]:
    aggregate = _CONTINUOUS.format(fractions=", ".join(str(pct / 100) for pct in PERCENTILES), value=value)
    columns = [f"{aggregate} FILTER (WHERE channel = '{channel}')" for channel in CHANNELS] + [aggregate]
    statement = text(f"SELECT {', '.join(columns)} FROM {table} "
                     f"WHERE {time} >= :since AND {time} < :until AND {value} IS NOT NULL").bindparams(
        bindparam("since", type_=UTCDateTime), bindparam("until", type_=UTCDateTime))
    row = session.execute(statement, {"since": p.since, "until": p.until}).one()
    return {k: {f"p{pct}": float(v) for pct, v in zip(PERCENTILES, found)}
            for k, found in zip((*CHANNELS, "*"), row) if found is not None}


def _percentiles(session: Session, table: str, value: str, time: str, p: Period) -> dict[str, dict[str, float]]:
    """{group: {"p50", "p90"}} of a stored duration, interpolated linearly between the two nearest
    values (PostgreSQL's percentile_cont; the same arithmetic on SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        return _continuous(session, table, value, time, p)
    return _ranked(session, table, value, time, p)


def _duration(n: int, total: float, percentiles: Optional[dict[str, float]]) -> dict[str, Any]:
    if not n or not percentiles:
        return {"count": 0, "mean": None, "p50": None, "p90": None}
    return {"count": int(n), "mean": round(total / n, 3), **{k: round(v, 3) for k, v in percentiles.items()}}


def _not_understood(session: Session, p: Period) -> dict[str, list[dict[str, Any]]]:
    """The customer messages the fallback answered most often, per channel and '*' (masked; erased
    ones left out)."""
    # The answered messages by their ids. PostgreSQL is told so with = ANY(ARRAY(...)): as a semi-join
    # it walked the whole primary key instead (3x slower on the benchmark's 200,000 messages).
    among = "= ANY(ARRAY({}))" if session.get_bind().dialect.name == "postgresql" else "IN ({})"
    replies = ("SELECT r.reply_to FROM messages r WHERE r.response IN :responses "
               "AND r.created_at >= :since AND r.created_at < :until")
    statement = text(
        f"SELECT c.channel, c.text, count(*) FROM messages c WHERE c.id {among.format(replies)} "
        "AND c.text IS NOT NULL AND c.text <> :erased GROUP BY c.channel, c.text"
    ).bindparams(bindparam("responses", expanding=True), bindparam("since", type_=UTCDateTime),
                 bindparam("until", type_=UTCDateTime))
    counts: dict[str, Counter] = {}
    rows = session.execute(statement, {"responses": sorted(FALLBACK_RESPONSES), "since": p.since, "until": p.until,
                                       "erased": ERASED})  # a forgotten person's words are not shown
    for channel, body, n in rows:
        shown = mask(" ".join(str(body).split()))[:MAX_SHOWN_TEXT]
        if shown:
            counts.setdefault(channel, Counter())[shown] += n
            counts.setdefault("*", Counter())[shown] += n
    return {k: [{"text": t, "count": n} for t, n in sorted(c.items(), key=lambda item: (-item[1], item[0]))[:TOP_MESSAGES]]
            for k, c in counts.items()}


def _daily(days: dict[tuple[dt.date, str], int], p: Period) -> list[dict[str, Any]]:
    """Sessions per service-local day and channel, every day of the period present."""
    calendar = service.calendar()
    first = calendar.local(p.since).date()
    last = calendar.local(p.until - dt.timedelta(microseconds=1)).date()
    series = {first + dt.timedelta(days=i): {c: 0 for c in (*CHANNELS, ALL)} for i in range((last - first).days + 1)}
    for (day, channel), n in days.items():
        counts = series.get(day)
        if counts is not None:
            if channel in counts:
                counts[channel] += n
            counts[ALL] += n
    return [{"day": day.isoformat(), **counts} for day, counts in series.items()]


# -- the figures ----------------------------------------------------------------------------------
NOTICE_COUNTS = ("sent", "delivered", "read", "refused", "failed", "opted_out")
_NOTICE_STAGES = ("sent", "delivered", "read")  # a stage reached counts the ones before it too


def _notices(session: Session, p: Period) -> dict[tuple[dt.date, str], Counter]:
    """Order notices (docs/notices.md) per service-local day and channel: sent, delivered and read
    as the provider reported them, refused by a channel's rule, failed, and the opt-outs said."""
    zone, table = service.calendar().zone, {}
    sent = session.execute(
        select(Notice.sent_at, Notice.channel, Message.delivery_status).join(Message, Message.id == Notice.message_id)
        .where(Notice.sent_at >= p.since, Notice.sent_at < p.until)).all()
    stops = session.execute(
        select(NoticeConsent.at, NoticeConsent.channel)
        .where(NoticeConsent.opted_in.is_(False), NoticeConsent.at >= p.since, NoticeConsent.at < p.until)).all()
    for at, channel, status in sent:
        counts = table.setdefault((at.astimezone(zone).date(), channel or "-"), Counter())
        if status in _NOTICE_STAGES:
            counts.update(_NOTICE_STAGES[: _NOTICE_STAGES.index(status) + 1])
        elif status in ("refused", "failed"):
            counts[status] += 1
    for at, channel in stops:
        table.setdefault((at.astimezone(zone).date(), channel or "-"), Counter())["opted_out"] += 1
    return table


def _notice_figures(days: dict[tuple[dt.date, str], Counter], channel: Optional[str]) -> dict[str, int]:
    """The period's notice counts of one channel (None: all), every key present."""
    total = Counter()
    for (_day, where), counts in days.items():
        if channel is None or where == channel:
            total.update(counts)
    return {key: total[key] for key in NOTICE_COUNTS}


def _rate(part: int, whole: int) -> float:
    """part / whole as a fraction rounded to 4 places; 0 when there is nothing to divide."""
    return round(part / whole, 4) if whole else 0.0


def _added(rows: dict[str, Counter]) -> Counter:
    total: Counter = Counter()
    for row in rows.values():
        total.update(row)
    return total


def _csat(h: Counter) -> dict[str, Any]:
    responses = h["csat_responses"]
    good = h["csat_4"] + h["csat_5"]
    return {
        "sent": h["csat_sent"],
        "responses": responses,
        "mean": round(h["csat_total"] / responses, 2) if responses else None,
        "score": round(100 * good / responses, 1) if responses else None,
        "distribution": {str(score): h[f"csat_{score}"] for score in range(1, 6)},
    }


def _block(s: Counter, h: Counter, percentiles: dict[str, Any], words: list[dict[str, Any]],
           sla: dict[str, int]) -> dict[str, Any]:
    """One channel's figures (or all channels'), every key present."""
    sessions, handoffs = s["sessions"], h["handoffs"]
    return {
        "sessions": sessions,
        "contained": s["contained"],
        "containment_rate": _rate(s["contained"], sessions),
        "handoffs": handoffs,
        "handoff_rate": _rate(handoffs, sessions),
        "abandoned": h["abandoned"],
        "first_response_bot_s": _duration(s["bot_n"], s["bot_total"], percentiles.get("bot")),
        "first_response_human_s": _duration(h["human_n"], h["human_total"], percentiles.get("human")),
        "resolution_s": _duration(h["resolution_n"], h["resolution_total"], percentiles.get("resolution")),
        "csat": _csat(h),
        "customer_messages": s["customer_messages"],
        "fallback_messages": s["fallback_messages"],
        "fallback_rate": _rate(s["fallback_messages"], s["customer_messages"]),
        "not_understood": words,
        "sla": {"warned": sla.get("warned", 0), "breached": sla.get("breached", 0)},
    }


def _rest(session: Session, p: Period) -> dict[str, Any]:
    """Everything but the bot's response percentiles: counts, the daily series, the agents' and
    resolution percentiles (hand-offs are a fraction of sessions), the not-understood messages."""
    suffix = _suffix(p)
    (sessions, days), handoffs = _session_counts(session, p), _handoff_counts(session, p)
    return {"sessions": sessions, "days": days, "handoffs": handoffs, "words": _not_understood(session, p),
            "notices": _notices(session, p),
            "human": _percentiles(session, "handoffs", "reply" + suffix, "requested_at", p),
            "resolution": _percentiles(session, "handoffs", "resolution" + suffix, "requested_at", p)}


def _bot(session: Session, p: Period) -> dict[str, dict[str, float]]:
    """The percentiles of the bot's first responses: a sort of every session in the period."""
    return _percentiles(session, "care_sessions", "reply" + _suffix(p), "started_at", p)


def _read(url: Optional[str], p: Period, part: Callable[[Session, Period], T]) -> T:
    with session_scope(url) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))  # the sorts stay in memory
        return part(session, p)


_pool: Optional[ThreadPoolExecutor] = None


def _read_all(p: Period, url: Optional[str]) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """Both parts; on PostgreSQL at once, on two connections (each statement reads its own snapshot
    in one transaction as well): the sessions' sort takes as long as all the rest (bench/kpis.py)."""
    global _pool
    if get_engine(url).dialect.name != "postgresql":
        return _read(url, p, _rest), _read(url, p, _bot)
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kpis")
    bot = _pool.submit(_read, url, p, _bot)
    return _read(url, p, _rest), bot.result()


def figures(p: Period, url: Optional[str] = None) -> dict[str, Any]:
    """Every KPI of the period: {"since", "until", "business_hours", "time_zone", "channels":
    {"whatsapp", "telegram", "webchat", "all"}, "daily"} (the admin API's body)."""
    rest, bot = _read_all(p, url)
    sessions, handoffs, words = rest["sessions"], rest["handoffs"], rest["words"]
    percentiles = {group: {"bot": bot.get(group), "human": rest["human"].get(group),
                           "resolution": rest["resolution"].get(group)} for group in (*CHANNELS, "*")}
    sla = sla_figures(p.since, p.until, p.business_hours)
    channels = {c: _block(sessions.get(c, Counter()), handoffs.get(c, Counter()), percentiles[c], words.get(c, []),
                          sla.get(c, {})) for c in CHANNELS}
    channels[ALL] = _block(_added(sessions), _added(handoffs), percentiles["*"], words.get("*", []),
                           dict(_added({c: Counter(v) for c, v in sla.items()})))
    for channel in (*CHANNELS, ALL):
        channels[channel]["notices"] = _notice_figures(rest["notices"], None if channel == ALL else channel)
    return {
        "since": p.since.astimezone(dt.timezone.utc).isoformat(),
        "until": p.until.astimezone(dt.timezone.utc).isoformat(),
        "business_hours": p.business_hours,
        "time_zone": service.calendar().zone.key,
        "channels": channels,
        "daily": _daily(rest["days"], p),
        "notices_daily": [{"day": day.isoformat(), "channel": channel, **{k: counts[k] for k in NOTICE_COUNTS}}
                          for (day, channel), counts in sorted(rest["notices"].items())],
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
        row.update({f"notices_{key}": k["notices"][key] for key in NOTICE_COUNTS})
        out.append(row)
    return out
