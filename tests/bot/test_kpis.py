"""bot/kpis.py: every KPI of the golden set, exactly, with and without business hours, on SQLite
and PostgreSQL; periods asked for badly are refused with the field at fault.

The golden set (tests/helpers_kpis.py) is written through the store functions production uses,
with an explicit clock. Mexico City times, Tuesday 1 and Wednesday 2 December 2026:

  ana    whatsapp 10:00  contained; her second message is not understood (phone and e-mail in it)
  beto   telegram 11:00  contained; "asdfgh" not understood
  caro   webchat  12:00  contained; "asdfgh" out of scope (and a session on Monday, outside the period)
  fer    webchat  13:00  hand-off claimed in 30 s, answered in 60 s, resolved in 5 min; writes again
                         (reopened, no rating), a second hand-off in the same session: answered in
                         2 min, resolved in 9, CSAT 4
  dora   whatsapp 15:00  claimed after 3 minutes, answered after 4, resolved after 20, CSAT 5;
                  Wed 10:00 her second hand-off, next day: answered in 2 min, resolved in 10, no rating
  eli    telegram 16:00  returned to the bot with no agent reply (abandoned)
  gabi   whatsapp 22:00  after hours: answered Wednesday 9:10 (600 business seconds), resolved 9:30, CSAT 3
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot import kpis
from bot.db import session_scope
from bot.store.cycles import CareSession, Handoff
from tests.helpers import temporary_database
from tests.helpers_kpis import MX, golden, local


def d(count: int, mean: Any = None, p50: Any = None, p90: Any = None) -> dict[str, Any]:
    return {"count": count, "mean": mean, "p50": p50, "p90": p90}


def csat(sent: int, responses: int, mean: Any, score: Any, **scores: int) -> dict[str, Any]:
    return {"sent": sent, "responses": responses, "mean": mean, "score": score,
            "distribution": {str(s): scores.get(f"s{s}", 0) for s in range(1, 6)}}


COUNTS = {  # sessions, contained, containment, handoffs, handoff rate, abandoned, messages, fallbacks, fallback rate
    "whatsapp": (4, 1, 0.25, 3, 0.75, 0, 9, 1, 0.1111),
    "telegram": (2, 1, 0.5, 1, 0.5, 1, 3, 1, 0.3333),
    "webchat": (2, 1, 0.5, 2, 1.0, 0, 5, 1, 0.2),
    "all": (8, 3, 0.375, 6, 0.75, 1, 17, 3, 0.1765),
}
CSAT = {
    "whatsapp": csat(3, 2, 4.0, 50.0, s3=1, s5=1),
    "telegram": csat(0, 0, None, None),
    "webchat": csat(2, 1, 4.0, 100.0, s4=1),
    "all": csat(5, 3, 4.0, 66.7, s3=1, s4=1, s5=1),
}
# (first_response_bot_s, first_response_human_s, resolution_s), wall-clock then business hours.
WALL = {
    "whatsapp": (d(4, 1.75, 2.0, 2.0), d(3, 13519.667, 240.0, 32207.2), d(3, 14399.667, 1200.0, 33359.2)),
    "telegram": (d(2, 2.5, 2.5, 2.9), d(0), d(0)),
    "webchat": (d(2, 1.0, 1.0, 1.0), d(2, 90.0, 90.0, 114.0), d(2, 420.0, 420.0, 516.0)),
    "all": (d(8, 1.75, 2.0, 2.3), d(5, 8147.8, 120.0, 24215.4), d(5, 8807.8, 600.0, 25319.4)),
}
BUSINESS = {
    "whatsapp": (d(4, 1.25, 1.5, 2.0), d(3, 320.0, 240.0, 528.0), d(3, 1200.0, 1200.0, 1680.0)),
    "telegram": WALL["telegram"],
    "webchat": WALL["webchat"],
    "all": (d(8, 1.5, 1.5, 2.3), d(5, 228.0, 120.0, 456.0), d(5, 888.0, 600.0, 1560.0)),
}
NOT_UNDERSTOOD = {
    "whatsapp": [{"text": "llámame al [phone] o [email]", "count": 1}],
    "telegram": [{"text": "asdfgh", "count": 1}],
    "webchat": [{"text": "asdfgh", "count": 1}],
    "all": [{"text": "asdfgh", "count": 2}, {"text": "llámame al [phone] o [email]", "count": 1}],
}


def expected(channel: str, business_hours: bool) -> dict[str, Any]:
    sessions, contained, containment, handoffs, handoff_rate, abandoned, messages, fallbacks, fallback_rate = COUNTS[channel]
    bot, human, resolution = (BUSINESS if business_hours else WALL)[channel]
    return {
        "sessions": sessions, "contained": contained, "containment_rate": containment,
        "handoffs": handoffs, "handoff_rate": handoff_rate, "abandoned": abandoned,
        "first_response_bot_s": bot, "first_response_human_s": human, "resolution_s": resolution,
        "csat": CSAT[channel], "customer_messages": messages, "fallback_messages": fallbacks,
        "fallback_rate": fallback_rate, "not_understood": NOT_UNDERSTOOD[channel],
        "sla": {"warned": 0, "breached": 0},
        "notices": {"sent": 0, "delivered": 0, "read": 0, "refused": 0, "failed": 0, "opted_out": 0},
    }


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def golden_db(request, tmp_path_factory: pytest.TempPathFactory):
    """The golden set in a fresh database of each kind, written once per module (tests only read)."""
    with pytest.MonkeyPatch.context() as patch, temporary_database(request.param, tmp_path_factory.mktemp("kpis")) as url:
        patch.setenv("DATABASE_URL", url)
        script, since, until = golden()
        yield script, since, until


def test_every_kpi_of_the_golden_set_wall_clock_and_in_business_hours(golden_db) -> None:
    _script, since, until = golden_db
    for business_hours in (False, True):
        result = kpis.figures(kpis.Period(since, until, business_hours))
        assert result["since"] == "2026-12-01T06:00:00+00:00" and result["until"] == "2026-12-03T06:00:00+00:00"
        assert result["business_hours"] is business_hours and result["time_zone"] == "America/Mexico_City"
        for channel in ("whatsapp", "telegram", "webchat", "all"):
            assert result["channels"][channel] == expected(channel, business_hours), (channel, business_hours)
        assert result["daily"] == [
            {"day": "2026-12-01", "whatsapp": 3, "telegram": 2, "webchat": 2, "all": 7},
            {"day": "2026-12-02", "whatsapp": 1, "telegram": 0, "webchat": 0, "all": 1},
        ]


def test_a_second_hand_off_is_a_record_of_its_own_and_the_first_is_kept(golden_db) -> None:
    script, _since, _until = golden_db
    with session_scope() as session:
        dora = session.execute(select(Handoff).where(Handoff.conversation_id == script.people["dora"].conversation_id)
                               .order_by(Handoff.id)).scalars().all()
        fer_sessions = session.execute(select(CareSession).where(
            CareSession.conversation_id == script.people["fer"].conversation_id)).scalars().all()
    first, second = dora
    assert (first.channel, first.outcome, first.csat, first.resolution_s, first.agent) == ("whatsapp", "resolved", 5, 1200.0, "U-AGENT")
    assert first.claimed_at == local(1, 15, 3, 1) and first.first_reply_at == local(1, 15, 4, 1)
    assert (second.outcome, second.csat, second.resolution_s, second.csat_asked_at) == ("resolved", None, 600.0, local(2, 10, 10, 1))
    assert first.session_id != second.session_id
    assert [(s.handoffs, s.messages) for s in fer_sessions] == [(2, 4)]  # reopened within the hour: one session


def test_a_channel_without_traffic_is_there_with_zeros(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with temporary_database("sqlite", tmp_path) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        result = kpis.figures(kpis.period("2026-12-01", "2026-12-03"))
    for channel in ("whatsapp", "telegram", "webchat", "all"):
        block = result["channels"][channel]
        assert block["sessions"] == block["handoffs"] == block["abandoned"] == 0
        assert block["containment_rate"] == block["handoff_rate"] == block["fallback_rate"] == 0.0
        assert block["first_response_bot_s"] == d(0) and block["resolution_s"] == d(0)
        assert block["csat"] == csat(0, 0, None, None) and block["sla"] == {"warned": 0, "breached": 0}
    assert [day["all"] for day in result["daily"]] == [0, 0]


def test_an_erased_person_s_words_leave_the_list_and_their_counts_stay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import update

    from bot.erasure import ERASED
    from bot.store.models import Message
    from tests.helpers_kpis import Script

    with temporary_database("sqlite", tmp_path) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        s = Script()
        for name in ("uno", "dos"):
            s.says(name, "telegram", f"qué es {name}", local(1, 10))
            s.bot(name, local(1, 10, 0, 1), response="utter_fallback")
        with session_scope() as session:  # what erasure (bot/erasure.py) leaves of "dos"
            session.execute(update(Message).where(Message.conversation_id == s.people["dos"].conversation_id)
                            .values(text=ERASED))
        telegram = kpis.figures(kpis.period("2026-12-01", "2026-12-02"))["channels"]["telegram"]
    assert telegram["not_understood"] == [{"text": "qué es uno", "count": 1}]
    assert (telegram["sessions"], telegram["fallback_messages"]) == (2, 2)


def test_rows_flatten_the_figures_one_per_channel(golden_db) -> None:
    _script, since, until = golden_db
    rows = kpis.rows(kpis.figures(kpis.Period(since, until, True)))
    assert [row["channel"] for row in rows] == ["whatsapp", "telegram", "webchat", "all"]
    whatsapp = rows[0]
    assert whatsapp["first_response_human_s_p90"] == 528.0 and whatsapp["csat_5"] == 1 and whatsapp["business_hours"] == 1
    assert whatsapp["sessions"] == 4 and rows[3]["handoffs"] == 6 and rows[1]["resolution_s_mean"] is None


NOW = dt.datetime(2026, 12, 7, 21, 0, tzinfo=dt.timezone.utc)


def test_periods_are_read_as_dates_times_or_relative_to_now() -> None:
    week = kpis.period(now=NOW)
    assert (week.since, week.until, week.business_hours) == (NOW - dt.timedelta(days=7), NOW, False)
    days = kpis.period("2026-12-01", "2026-12-03", "1", now=NOW)
    assert days.since == dt.datetime(2026, 12, 1, 6, tzinfo=dt.timezone.utc) and days.business_hours is True
    assert kpis.period("24h", now=NOW).since == NOW - dt.timedelta(hours=24)
    zoned = kpis.period("2026-12-01T10:00:00+00:00", "2026-12-01T12:00", now=NOW)
    assert zoned.since == dt.datetime(2026, 12, 1, 10, tzinfo=dt.timezone.utc)
    assert zoned.until == dt.datetime(2026, 12, 1, 12, tzinfo=MX)


@pytest.mark.parametrize("since, until, flag, field", [
    ("yesterday", None, None, "since"),
    ("2026-13-01", None, None, "since"),
    ("2026-12-01", "2026-12-0", None, "until"),
    ("2026-12-03", "2026-12-01", None, "until"),
    ("2026-12-01", "2026-12-01", None, "until"),
    ("2025-01-01", "2026-12-01", None, "since"),
    ("2026-12-01", "2026-12-02", "maybe", "business_hours"),
])
def test_a_bad_period_is_refused_naming_the_field(since, until, flag, field) -> None:
    with pytest.raises(kpis.BadPeriod) as refused:
        kpis.period(since, until, flag, now=NOW)
    assert refused.value.field == field and str(refused.value)
