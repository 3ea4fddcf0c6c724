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
