"""The service's calendar: when people answer (time zone, weekly hours, holidays).

Read from `service.yml` at the repository root. It is a fact about the whole service, not about
one channel: the agents' desk tells after-hours customers when we open, and the SLA and notice
features read the same calendar. Without the file, the hours are Monday to Friday 9:00-19:00 and
Saturday 9:00-14:00, Mexico City time.
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.config import ROOT

SERVICE_FILE = ROOT / "service.yml"
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT_ZONE = "America/Mexico_City"
DEFAULT_HOURS = {day: "09:00-19:00" for day in DAYS[:5]} | {"saturday": "09:00-14:00", "sunday": "closed"}

Range = tuple[dt.time, dt.time]

# Day names for describing the hours: (Spanish, as in "de lunes a viernes"; Spanish plural, as in
# "sábados"; English).
_DAY_NAMES = (
    ("lunes", "lunes", "Monday"), ("martes", "martes", "Tuesday"), ("miércoles", "miércoles", "Wednesday"),
    ("jueves", "jueves", "Thursday"), ("viernes", "viernes", "Friday"), ("sábado", "sábados", "Saturday"),
    ("domingo", "domingos", "Sunday"),
)
_ZONE_NAMES = {"America/Mexico_City": ("hora del centro de México", "Mexico City time")}


class ServiceConfigError(ValueError):
    """service.yml says something the service cannot work with (the message says what and where)."""


def _time(text: str, where: str) -> dt.time:
    try:
        hours, minutes = (int(part) for part in text.strip().split(":"))
        return dt.time(hours, minutes) if hours < 24 else dt.time.max
    except ValueError as error:
        raise ServiceConfigError(f"{where}: {text!r} is not HH:MM") from error


def _range(value: Any, where: str) -> Optional[Range]:
    """ "09:00-19:00" as (opening, closing); None for "closed"."""
    if value is None or str(value).strip().lower() == "closed" or value is False:
        return None
    opening, sep, closing = str(value).partition("-")
    if not sep:
        raise ServiceConfigError(f"{where}: {value!r} is not HH:MM-HH:MM or closed")
    span = (_time(opening, where), _time(closing, where))
    if span[0] >= span[1]:
        raise ServiceConfigError(f"{where}: {value!r} closes before it opens")
    return span


@dataclass(frozen=True)
class Calendar:
    """Opening hours per weekday (Monday = 0) in one time zone, less the holidays."""

    zone: ZoneInfo
    hours: dict[int, Range]
    holidays: frozenset[dt.date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.hours:
            raise ServiceConfigError("service.yml: hours are closed every day; a week needs an opening")

    def local(self, now: dt.datetime) -> dt.datetime:
        """`now` (aware) in the service's time zone."""
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("naive datetime refused: pass an aware datetime")
        return now.astimezone(self.zone)

    def _span(self, day: dt.date) -> Optional[Range]:
        return None if day in self.holidays else self.hours.get(day.weekday())

    def is_open(self, now: dt.datetime) -> bool:
        """Whether people are working at `now` (an aware datetime)."""
        local = self.local(now)
        span = self._span(local.date())
        return span is not None and span[0] <= local.time().replace(tzinfo=None) < span[1]

    def next_opening(self, now: dt.datetime) -> Optional[dt.datetime]:
        """The next opening after `now`, in the service's zone; None while open."""
        local = self.local(now)
        if self.is_open(local):
            return None
        for offset in range(len(self.holidays) + 8):  # every holiday can push it one day further
            day = local.date() + dt.timedelta(days=offset)
            span = self._span(day)
            if span is None:
                continue
            opening = dt.datetime.combine(day, span[0], tzinfo=self.zone)
            if opening > local:
                return opening
        raise ServiceConfigError("service.yml: no opening found; are all days holidays?")  # pragma: no cover

    def describe(self, language: str) -> str:
        """The weekly hours as customers read them, e.g. "Monday to Friday 9:00–19:00 and
        Saturday 9:00–14:00 (Mexico City time)"; Spanish unless `language` is "en"."""
        english = language == "en"
        groups: list[tuple[int, int, Range]] = []  # (first day, last day, span), consecutive days alike
        for day in sorted(self.hours):
            if groups and groups[-1][1] == day - 1 and groups[-1][2] == self.hours[day]:
                groups[-1] = (groups[-1][0], day, self.hours[day])
            else:
                groups.append((day, day, self.hours[day]))
        parts = [_describe_group(first, last, span, english) for first, last, span in groups]
        joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + (" and " if english else " y ") + parts[-1]
        spanish_zone, english_zone = _ZONE_NAMES.get(self.zone.key, (f"hora de {self.zone.key}", f"{self.zone.key} time"))
        return f"{joined} ({english_zone if english else spanish_zone})"


def _clock(moment: dt.time) -> str:
    return "24:00" if moment == dt.time.max else f"{moment.hour}:{moment.minute:02d}"


def _describe_group(first: int, last: int, span: Range, english: bool) -> str:
    opening, closing = _clock(span[0]), _clock(span[1])
    if english:
        days = _DAY_NAMES[first][2] + (f" to {_DAY_NAMES[last][2]}" if last > first else "")
        return f"{days} {opening}–{closing}"
    days = f"de {_DAY_NAMES[first][0]} a {_DAY_NAMES[last][0]}" if last > first else _DAY_NAMES[first][1]
    return f"{days} de {opening} a {closing}"


def parse(data: Any, source: str = "service.yml") -> Calendar:
    """A Calendar from the parsed YAML (a mapping; missing keys take today's defaults)."""
    data = data or {}
    if not isinstance(data, dict):
        raise ServiceConfigError(f"{source}: expected a mapping with time_zone, hours and holidays")
    try:
        zone = ZoneInfo(str(data.get("time_zone") or DEFAULT_ZONE))
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ServiceConfigError(f"{source}: unknown time_zone {data.get('time_zone')!r}") from error
    given = data.get("hours") or DEFAULT_HOURS
    unknown = set(map(str, given)) - set(DAYS) if isinstance(given, dict) else {"(not a mapping)"}
    if unknown:
        raise ServiceConfigError(f"{source}: hours has unknown days {sorted(unknown)}; use {', '.join(DAYS)}")
    hours = {}
    for index, day in enumerate(DAYS):
        span = _range(given.get(day, "closed"), f"{source}: hours.{day}")
        if span is not None:
            hours[index] = span
    holidays = set()
    for value in data.get("holidays") or ():
        try:
            holidays.add(value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)))
        except ValueError as error:
            raise ServiceConfigError(f"{source}: holiday {value!r} is not YYYY-MM-DD") from error
    return Calendar(zone, hours, frozenset(holidays))


def load(path: Optional[Path] = None) -> Calendar:
    """The calendar in `path` (default: service.yml at the repository root; today's hours without it)."""
    path = path or SERVICE_FILE
    if not path.exists():
        return parse({})
    with path.open(encoding="utf-8") as handle:
        return parse(yaml.safe_load(handle), path.name)


@functools.lru_cache(maxsize=1)
def calendar() -> Calendar:
    """The service's calendar, read once per process."""
    return load()


def option(key: str, path: Optional[Path] = None) -> Any:
    """Another top-level setting of service.yml that a feature reads (e.g. `notice_quiet_hours`);
    None when the file or the key is absent."""
    path = path or SERVICE_FILE
    if not path.exists():
        return None
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return data.get(key) if isinstance(data, dict) else None
