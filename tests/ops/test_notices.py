"""ops/notices.py: events raised from what the business knows (the command line, the overdue check)
and the operators' counts, `python -m bot notices --since 7d`. On databases of their own: the
events' notice jobs must not reach the session's servers."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import select

from actions.backend.sql import SqlBackend
from bot import config, notices
from bot.config import ROOT
from bot.db import session_scope, utcnow
from bot.store.models import Job
from bot.store.notices import NOTICE_JOB, OrderEventRow
from ops import cli
from ops import notices as operator_notices
from ops import seed
from tests.helpers import temporary_database


@pytest.fixture
def erp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A seeded database, ten days old: the demo's orders expected within nine days are late now."""
    with temporary_database("sqlite", tmp_path) as url:
        seed.seed(url, today=dt.date.today() - dt.timedelta(days=10))
        monkeypatch.setenv("DATABASE_URL", url)
        config.reload()
        yield url
    config.reload()


def test_orders_past_their_expected_date_get_one_delayed_event_per_date(erp: str) -> None:
    backend = SqlBackend()
    today = dt.date.today()
    late = {o.id for o in backend.orders_overdue(today)}
    assert late and "PED-10238" not in late and "PED-10239" not in late  # delivered, cancelled: never late
    assert operator_notices.check_overdue(backend) == len(late)
    assert operator_notices.check_overdue(backend) == 0  # once per order and expected date
    with session_scope() as session:
        events = session.execute(select(OrderEventRow)).scalars().all()
        assert {e.order_id for e in events} == late
        assert all(e.type == "delayed" and e.source == "overdue" for e in events)
        assert all(e.event_id == f"overdue:{e.order_id}:{backend.order(e.order_id).expected_date}" for e in events)


def test_the_overdue_check_sets_its_next_run_once(erp: str) -> None:
    operator_notices.schedule_overdue()
    operator_notices.schedule_overdue()  # a second replica starting
    with session_scope() as session:
        [job] = session.execute(select(Job).where(Job.kind == operator_notices.OVERDUE_JOB)).scalars().all()
    import asyncio

    asyncio.run(operator_notices.overdue_job(job))
    with session_scope() as session:
        [following] = session.execute(select(Job).where(Job.kind == operator_notices.OVERDUE_JOB)).scalars().all()
    assert following.due_at > utcnow() + operator_notices.OVERDUE_EVERY - dt.timedelta(minutes=1)


def test_the_command_line_raises_the_event_and_reports_the_counts(erp: str, capsys: pytest.CaptureFixture,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": erp, "RASA_TELEMETRY_ENABLED": "false", "PYTHONPATH": str(ROOT),
           "NOTICE_QUIET_HOURS": "off"}
    done = subprocess.run([sys.executable, "-m", "bot", "orders", "event", "PED-10235", "delayed", "--reason", "weather",
                           "--expected-date", "2026-12-12"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert (printed["status"], printed["notices"]) == ("accepted", 1)
    with session_scope() as session:
        [event] = session.execute(select(OrderEventRow)).scalars().all()
        [job] = session.execute(select(Job).where(Job.kind == NOTICE_JOB)).scalars().all()
    assert (event.event_id, event.reason, event.expected_date, event.source) == (
        printed["event_id"], "weather", dt.date(2026, 12, 12), "cli")
    assert job.due_at <= utcnow()  # quiet hours off: due at once, for the running server to send

    monkeypatch.setenv("NOTICE_QUIET_HOURS", "off")
    assert cli.main(["orders", "event", "ped-10235", "delayed", "--event-id", printed["event_id"]]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "duplicate"
    assert cli.main(["orders", "event", "PED-99999", "shipped"]) == 1
    assert "unknown order PED-99999" in capsys.readouterr().err
    assert cli.main(["notices", "--since", "7d"]) == 0
    assert capsys.readouterr().out.strip() == "no notices in that period"  # stored, not sent yet
    assert cli.main(["notices", "--since", "a week"]) == 2


def test_the_table_has_a_row_per_day_and_channel() -> None:
    days = [notices.Day(dt.date(2026, 12, 7), "whatsapp", {**dict.fromkeys(notices.COUNTS, 0), "sent": 12, "read": 3}),
            notices.Day(dt.date(2026, 12, 7), "telegram", {**dict.fromkeys(notices.COUNTS, 0), "opted_out": 1})]
    lines = operator_notices.table(days).splitlines()
    assert lines[0].split() == ["day", "channel", "sent", "delivered", "read", "refused", "failed", "opted_out"]
    assert lines[1].split() == ["2026-12-07", "whatsapp", "12", "0", "3", "0", "0", "0"]
    assert lines[2].split() == ["2026-12-07", "telegram", "0", "0", "0", "0", "0", "1"]
    assert operator_notices.parse_since("24h") == dt.timedelta(hours=24)
    assert operator_notices.parse_since("2w") == dt.timedelta(days=14)
