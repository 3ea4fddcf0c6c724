"""The service calendar (bot/service.py, service.yml): when people answer."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional
from zoneinfo import ZoneInfo

import pytest

from bot import service
from bot.service import ServiceConfigError

MEXICO_CITY = ZoneInfo("America/Mexico_City")


@pytest.mark.parametrize(
    "local, open_now, opening",
    [
        ("2025-11-26 11:00", True, None),  # Wednesday
        ("2025-11-26 19:00", False, "2025-11-27 09:00"),  # Wednesday, closing time
        ("2025-11-28 20:30", False, "2025-11-29 09:00"),  # Friday night -> Saturday
        ("2025-11-29 13:59", True, None),  # Saturday morning
        ("2025-11-29 14:00", False, "2025-12-01 09:00"),  # Saturday afternoon -> Monday
        ("2025-11-30 12:00", False, "2025-12-01 09:00"),  # Sunday
        ("2025-12-01 08:59", False, "2025-12-01 09:00"),  # Monday, early
    ],
)
@pytest.mark.parametrize("calendar", [service.load(), service.parse({})], ids=["service.yml", "defaults"])
def test_business_hours_and_next_opening(
    calendar: service.Calendar, local: str, open_now: bool, opening: Optional[str]
) -> None:
    now = dt.datetime.fromisoformat(local).replace(tzinfo=MEXICO_CITY)
    assert calendar.is_open(now) is open_now
    expected = dt.datetime.fromisoformat(opening).replace(tzinfo=MEXICO_CITY) if opening else None
    assert calendar.next_opening(now) == expected
    assert calendar.next_opening(now.astimezone(dt.timezone.utc)) == expected  # any zone, same instant


def test_the_shipped_file_is_todays_hours_and_reads_as_before() -> None:
    calendar = service.load()
    assert calendar == service.parse({})
    assert calendar.describe("es") == (
        "de lunes a viernes de 9:00 a 19:00 y sábados de 9:00 a 14:00 (hora del centro de México)"
    )
    assert calendar.describe("en") == "Monday to Friday 9:00–19:00 and Saturday 9:00–14:00 (Mexico City time)"


def test_holidays_minutes_and_another_zone(tmp_path: Path) -> None:
    path = tmp_path / "service.yml"
    path.write_text(
        "time_zone: America/Bogota\n"
        "hours: {monday: '08:30-17:00', tuesday: '08:30-17:00', wednesday: closed, thursday: '10:00-12:00'}\n"
        "holidays: ['2025-12-01', 2025-12-02]\n",
        encoding="utf-8",
    )
    calendar = service.load(path)
    bogota = ZoneInfo("America/Bogota")
    sunday = dt.datetime(2025, 11, 30, 12, 0, tzinfo=bogota)
    # Monday and Tuesday are holidays, Wednesday is closed: Thursday at 10:00.
    assert calendar.next_opening(sunday) == dt.datetime(2025, 12, 4, 10, 0, tzinfo=bogota)
    assert not calendar.is_open(dt.datetime(2025, 12, 1, 9, 0, tzinfo=bogota))
    assert calendar.is_open(dt.datetime(2025, 12, 8, 8, 30, tzinfo=bogota))
    assert not calendar.is_open(dt.datetime(2025, 12, 8, 8, 29, tzinfo=bogota))
    assert calendar.describe("en") == "Monday to Tuesday 8:30–17:00 and Thursday 10:00–12:00 (America/Bogota time)"


def test_a_missing_file_means_todays_hours(tmp_path: Path) -> None:
    assert service.load(tmp_path / "absent.yml") == service.parse({})


@pytest.mark.parametrize(
    "data, complaint",
    [
        ({"time_zone": "Mars/Olympus"}, "unknown time_zone"),
        ({"hours": {"funday": "09:00-10:00"}}, "unknown days"),
        ({"hours": {"monday": "9-17"}}, "not HH:MM"),
        ({"hours": {"monday": "17:00-09:00"}}, "closes before it opens"),
        ({"hours": {"monday": "closed"}}, "a week needs an opening"),
        ({"holidays": ["25/12/2025"]}, "not YYYY-MM-DD"),
    ],
)
def test_a_wrong_file_is_refused_with_what_is_wrong(data: dict, complaint: str) -> None:
    with pytest.raises(ServiceConfigError, match=complaint):
        service.parse(data)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        service.calendar().is_open(dt.datetime(2025, 11, 26, 11, 0))


def _local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=MEXICO_CITY)


@pytest.mark.parametrize(
    "year, expected",
    [
        (2026, ["2026-01-01", "2026-02-02", "2026-03-16", "2026-05-01", "2026-09-16", "2026-11-16", "2026-12-25"]),
        (2024, ["2024-01-01", "2024-02-05", "2024-03-18", "2024-05-01", "2024-09-16", "2024-10-01",
                "2024-11-18", "2024-12-25"]),
    ],
)
def test_mexico_federal_holidays(year: int, expected: list[str]) -> None:
    assert sorted(service.mexico_federal_holidays(year)) == [dt.date.fromisoformat(d) for d in expected]


def test_national_holidays_close_the_service_unless_switched_off() -> None:
    revolution_day = _local("2026-11-16 11:00")  # a Monday
    assert not service.parse({}).is_open(revolution_day)
    assert service.parse({}).next_opening(revolution_day) == _local("2026-11-17 09:00")
    assert service.parse({"national_holidays": "none"}).is_open(revolution_day)
    with pytest.raises(ServiceConfigError, match="national_holidays"):
        service.parse({"national_holidays": "XX"})


@pytest.mark.parametrize(
    "start, end, hours",
    [
        ("2025-11-26 10:00", "2025-11-26 10:30", 0.5),  # inside one working day
        ("2025-11-26 18:00", "2025-11-27 10:00", 2.0),  # across the night
        ("2025-11-28 18:00", "2025-12-01 10:00", 7.0),  # Friday 1 h + Saturday 5 h + Monday 1 h
        ("2025-11-30 08:00", "2025-11-30 20:00", 0.0),  # Sunday: closed
        ("2025-11-26 11:00", "2025-11-26 10:00", 0.0),  # end before start
    ],
)
def test_business_seconds_count_only_opening_hours(start: str, end: str, hours: float) -> None:
    calendar = service.parse({})
    assert calendar.business_seconds(_local(start), _local(end)) == hours * 3600
    assert calendar.business_seconds(_local(start).astimezone(dt.timezone.utc), _local(end)) == hours * 3600


@pytest.mark.parametrize(
    "start, hours, due",
    [
        ("2026-12-08 00:27", 24, "2026-12-10 13:00"),  # a ticket opened at night: 10 h a day from 9:00
        ("2026-12-08 10:00", 4, "2026-12-08 14:00"),
        ("2026-12-11 18:00", 2, "2026-12-12 10:00"),  # Friday evening -> Saturday morning
        ("2026-12-12 13:00", 2, "2026-12-14 10:00"),  # Saturday closes at 14:00 -> Monday
        ("2026-12-24 18:00", 2, "2026-12-26 10:00"),  # Christmas (a federal holiday) skipped
        ("2026-12-06 12:00", 0, "2026-12-07 09:00"),  # Sunday, nothing to add: the next opening
    ],
)
def test_add_business_lands_on_a_working_time(start: str, hours: float, due: str) -> None:
    calendar = service.parse({})
    result = calendar.add_business(_local(start), hours * 3600)
    assert result == _local(due)
    assert hours == 0 or calendar.is_open(result - dt.timedelta(seconds=1))
    assert calendar.business_seconds(_local(start), result) == hours * 3600
