"""The service's calendar: when people answer (time zone, weekly hours, holidays).

Read from `service.yml` at the repository root. It is a fact about the whole service, not about
one channel: the agents' desk tells after-hours customers when we open, and the SLA and notice
features read the same calendar. Without the file, the hours are Monday to Friday 9:00-19:00 and
Saturday 9:00-14:00, Mexico City time, closed on Mexico's federal holidays. Business time (how long
a customer waited in working hours, when an SLA falls due) is counted on this calendar.
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.config import ROOT

SERVICE_FILE = ROOT / "service.yml"
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT_ZONE = "America/Mexico_City"
DEFAULT_NATIONAL_HOLIDAYS = "MX"  # the market we serve first
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
    national_holidays: Optional[str] = None  # "MX": Mexico's federal rest days (Ley Federal del Trabajo, art. 74)

    def __post_init__(self) -> None:
        if not self.hours:
            raise ServiceConfigError("service.yml: hours are closed every day; a week needs an opening")

    def local(self, now: dt.datetime) -> dt.datetime:
        """`now` (aware) in the service's time zone."""
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("naive datetime refused: pass an aware datetime")
        return now.astimezone(self.zone)

    def is_holiday(self, day: dt.date) -> bool:
        """A listed holiday, or a national one when the file names the country."""
        return day in self.holidays or (self.national_holidays == "MX" and day in mexico_federal_holidays(day.year))

    def _span(self, day: dt.date) -> Optional[Range]:
        return None if self.is_holiday(day) else self.hours.get(day.weekday())

    def _open_spans(self, first: dt.date, last: dt.date) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """The opening spans of the local days first..last, as aware datetimes (UTC)."""
        day = first
        while day <= last:
            span = self._span(day)
            if span is not None:
                opening = dt.datetime.combine(day, span[0], tzinfo=self.zone)
                closing = (dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=self.zone)
                           if span[1] == dt.time.max else dt.datetime.combine(day, span[1], tzinfo=self.zone))
                yield opening.astimezone(dt.timezone.utc), closing.astimezone(dt.timezone.utc)
            day += dt.timedelta(days=1)

    def business_seconds(self, start: dt.datetime, end: dt.datetime) -> float:
        """Seconds of opening hours between two aware instants (0 when end <= start): how long a
        customer waited in the time people work, which is what an SLA promises."""
        if end <= start:
            return 0.0
        first, last = self.local(start).date(), self.local(end).date()
        total = 0.0
        for opening, closing in self._open_spans(first, last):
            overlap = (min(closing, end) - max(opening, start)).total_seconds()
            total += max(overlap, 0.0)
        return total

    def add_business(self, start: dt.datetime, seconds: float) -> dt.datetime:
        """The instant when `seconds` of opening hours have passed since `start` (aware, in the
        service's zone): a promise that lands on a working time, never at 00:27 on a Tuesday."""
        left = max(float(seconds), 0.0)
        day = self.local(start).date()
        start_utc = start.astimezone(dt.timezone.utc)
        for offset in range(0, 3660):  # ten years of days: enough for any SLA, ends on odd calendars
            for opening, closing in self._open_spans(day + dt.timedelta(days=offset), day + dt.timedelta(days=offset)):
                begin = max(opening, start_utc)
                if begin >= closing:
                    continue
                available = (closing - begin).total_seconds()
                if left <= available and (left > 0 or begin < closing):
                    return (begin + dt.timedelta(seconds=left)).astimezone(self.zone)
                left -= available
        raise ServiceConfigError("service.yml: no opening hours found within ten years")  # pragma: no cover

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
        for offset in range(len(self.holidays) + 16):  # every holiday can push it one day further
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
    national = data.get("national_holidays", DEFAULT_NATIONAL_HOLIDAYS)
    national = None if national in (None, False) or str(national).lower() == "none" else str(national).upper()
    if national is not None and national not in NATIONAL_HOLIDAYS:
        raise ServiceConfigError(f"{source}: national_holidays {national!r} is not one of {sorted(NATIONAL_HOLIDAYS)} or none")
    return Calendar(zone, hours, frozenset(holidays), national)


def _nth_monday(year: int, month: int, nth: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(7 - first.weekday()) % 7 + 7 * (nth - 1))


@functools.lru_cache(maxsize=64)
def mexico_federal_holidays(year: int) -> frozenset[dt.date]:
    """Mexico's mandatory rest days (Ley Federal del Trabajo, art. 74): New Year, Constitution Day
    (first Monday of February), Benito Juárez (third Monday of March), Labour Day, Independence
    Day, Revolution Day (third Monday of November), Christmas, and the day the federal executive
    changes hands every six years (1 October from 2024; 1 December before)."""
    days = {dt.date(year, 1, 1), _nth_monday(year, 2, 1), _nth_monday(year, 3, 3), dt.date(year, 5, 1),
            dt.date(year, 9, 16), _nth_monday(year, 11, 3), dt.date(year, 12, 25)}
    if year >= 2024 and (year - 2024) % 6 == 0:
        days.add(dt.date(year, 10, 1))
    elif year < 2024 and (2024 - year) % 6 == 0:
        days.add(dt.date(year, 12, 1))
    return frozenset(days)


NATIONAL_HOLIDAYS = {"MX": mexico_federal_holidays}


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
