"""Service levels in business time (bot/sla.py): targets from service.yml, due times that land on
working time, clocks with their two timers, and the figures the KPIs and the dashboard read.

On a database of the module's own (the queries look at every open hand-off), with the clock of
every step given by the test."""
from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot import config, conversations, db, handoff, jobs, service, sla
from bot.db import session_scope
from bot.messages import Inbound
from bot.service import ServiceConfigError
from bot.store import sla as store
from bot.store.models import Conversation, Job, Message
from tests.helpers import temporary_database

MEXICO_CITY = ZoneInfo("America/Mexico_City")


def local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=MEXICO_CITY)


@pytest.fixture(scope="module")
def own_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch, temporary_database("sqlite", tmp_path_factory.mktemp("sla")) as url:
        patch.setenv("DATABASE_URL", url)
        config.reload()
        yield url
    config.reload()


def test_the_shipped_targets_are_the_old_table_in_business_hours() -> None:
    targets = sla.load()
    assert targets.handoff_minutes == 30
    for area in ("logistics", "after_sales", "billing", "sales", "customer_service", "an_area_not_listed"):
        assert [targets.ticket_hours(area, p) for p in sla.PRIORITIES] == [4, 8, 24, 48]
    assert sla.parse({}) == sla.Targets()  # no sla section: the same defaults


def test_targets_per_area_and_priority_and_refused_values(tmp_path: Path) -> None:
    path = tmp_path / "service.yml"
    path.write_text("sla:\n  handoff_first_reply_minutes: 15\n  tickets:\n    billing: {urgent: 2}\n", encoding="utf-8")
    targets = sla.load(path)
    assert targets.handoff_minutes == 15
    assert targets.ticket_hours("billing", "urgent") == 2 and targets.ticket_hours("billing", "low") == 48
    with pytest.raises(ValueError):
        targets.ticket_hours("billing", "whenever")
    for bad in ({"sla": {"handoff_first_reply_minutes": 0}}, {"sla": {"tickets": {"billing": {"soon": 1}}}},
                {"sla": {"tickets": {"billing": {"high": "eight"}}}}, {"sla": "fast"}):
        with pytest.raises(ServiceConfigError):
            sla.parse(bad)


@pytest.mark.parametrize(
    "opened, priority, due",
    [
        ("2026-12-07 00:27", "normal", "2026-12-09 13:00"),  # Monday night: 10 h Monday, 10 h Tuesday, 4 h Wednesday
        ("2026-12-04 17:00", "urgent", "2026-12-05 11:00"),  # Friday 17-19, then Saturday 9-11
        ("2026-12-05 13:00", "high", "2026-12-07 16:00"),  # Saturday 13-14, Sunday closed, Monday 9-16
        ("2026-12-24 17:00", "urgent", "2026-12-26 11:00"),  # Christmas (a federal holiday) skipped
        ("2026-12-07 10:00", "low", "2026-12-11 18:00"),  # 48 h: Monday 9, Tuesday to Thursday 30, Friday 9
    ],
)
def test_ticket_due_times_count_business_hours_and_land_on_working_time(opened: str, priority: str, due: str) -> None:
    calendar = service.calendar()
    promised = sla.ticket_due("logistics", priority, local(opened))
    assert promised == local(due)
    assert calendar.business_seconds(local(opened), promised) == sla.targets().ticket_hours("logistics", priority) * 3600
    assert calendar.is_open(promised - dt.timedelta(seconds=1))  # the promise is a time people work


def test_a_handoff_after_hours_is_due_half_an_hour_after_opening() -> None:
    assert sla.handoff_due(local("2026-12-07 23:10")) == local("2026-12-08 09:30")
    assert sla.handoff_due(local("2026-12-07 18:50")) == local("2026-12-08 09:20")
    assert sla.warn_at(local("2026-12-07 18:50"), local("2026-12-08 09:20")) == local("2026-12-08 09:14")


def waiting(handed_off_at: dt.datetime, channel: str = "whatsapp") -> str:
    """A customer who asked for a person at `handed_off_at`."""
    address = f"+52155{uuid.uuid4().int % 10**8:08d}" if channel == "whatsapp" else uuid.uuid4().hex
    inbound = Inbound(channel, address, "quiero un asesor")
    party = conversations.resolve(inbound)
    conversations.store_inbound(party, inbound, "quiero un asesor")
    assert handoff.request(party.conversation_id, reason="test", channel=channel, language="es")
    with session_scope() as session:
        session.execute(update(Conversation).where(Conversation.id == party.conversation_id)
                        .values(handed_off_at=handed_off_at))
    return party.conversation_id


def agent_replied(conversation_id: str, at: dt.datetime, status: str = "sent") -> None:
    with session_scope() as session:
        session.add(Message(conversation_id=conversation_id, direction="out", author="agent", channel="whatsapp",
                            text="hola", delivery_status=status, created_at=at))


def timers(ref: str) -> dict[str, dt.datetime]:
    with session_scope() as session:
        return {kind: due for kind, due in session.execute(select(Job.kind, Job.due_at).where(Job.ref == ref))}


def clear_open_work() -> None:
    """Every earlier test's hand-offs and clocks out of the way of the queries under test."""
    with session_scope() as session:
        session.execute(update(Conversation).values(status="bot"))
        session.execute(update(store.SlaClock).values(stopped_at=db.utcnow()))


def test_a_ticket_clock_is_started_once_with_its_two_timers(own_database: str) -> None:
    opened = local("2026-12-07 00:27")
    due = sla.ticket_due("logistics", "normal", opened)
    assert sla.start_ticket("TCK-9001", opened, due, conversation_id=None, area="logistics", priority="normal")
    assert not sla.start_ticket("TCK-9001", opened, due)  # an action retried: still one clock
    assert timers("TCK-9001") == {sla.WARNING_JOB: sla.warn_at(opened, due), sla.BREACH_JOB: due}
    assert sla.warn_at(opened, due) == local("2026-12-08 18:12")  # 19.2 of 24 business hours: Monday 10, Tuesday 9.2
    [clock] = store.clocks_of("ticket", ["TCK-9001"])
    assert (clock.channel, clock.detail) == (None, {"area": "logistics", "priority": "normal"})
    assert sla.stop(clock) and not sla.stop(clock)
    assert timers("TCK-9001") == {}  # a stopped clock's timers are gone


def test_handoff_clocks_start_from_the_queue_and_stop_at_the_first_reply_sent(own_database: str) -> None:
    clear_open_work()
    wednesday = local("2025-11-26 11:00")
    answered, unanswered, queued_reply = waiting(wednesday), waiting(wednesday), waiting(wednesday, "webchat")
    agent_replied(queued_reply, wednesday + dt.timedelta(minutes=2), status="pending")  # not sent yet
    assert sla.start_handoffs() == 3 and sla.start_handoffs() == 0
    assert timers(unanswered) == {sla.WARNING_JOB: local("2025-11-26 11:24"), sla.BREACH_JOB: local("2025-11-26 11:30")}

    agent_replied(answered, wednesday + dt.timedelta(minutes=3))
    assert sla.sweep_handoffs() == 1
    assert timers(answered) == {} and timers(unanswered) != {} and timers(queued_reply) != {}
    episode = sla.episode_of(wednesday)
    assert not sla.handoff_open(answered, episode) and sla.handoff_open(unanswered, episode)

    # Handed off again the next day: a new episode, a new clock.
    with session_scope() as session:
        session.execute(update(Conversation).where(Conversation.id == answered).values(status="bot"))
    handoff.request(answered, reason="again")
    with session_scope() as session:
        session.execute(update(Conversation).where(Conversation.id == answered).values(handed_off_at=wednesday + dt.timedelta(days=1)))
    assert sla.start_handoffs() == 1
    assert len(store.clocks_of("handoff", [answered])) == 2


def test_open_items_and_figures(own_database: str) -> None:
    clear_open_work()
    wednesday = local("2025-11-26 11:00")
    late, fresh = waiting(wednesday, "telegram"), waiting(wednesday + dt.timedelta(minutes=20), "webchat")
    sla.start_handoffs()
    due = sla.ticket_due("billing", "urgent", wednesday)
    sla.start_ticket("TCK-9002", wednesday, due, conversation_id=late, area="billing", priority="urgent")

    items = sla.open_items(local("2025-11-26 11:35"))
    assert [(i["kind"], i["ref"], i["channel"], i["level"], i["seconds_left"]) for i in items] == [
        ("handoff", late, "telegram", "breached", -300),
        ("handoff", fresh, "webchat", "ok", 15 * 60),
        ("ticket", "TCK-9002", "telegram", "ok", 4 * 3600 - 35 * 60),
    ]
    assert items[0]["due_at"] == "2025-11-26T11:30:00-06:00"
    # Overnight only opening hours count: 11:30 to 19:00, then 9:00 to 9:30 the next morning.
    overnight = sla.open_items(local("2025-11-27 09:30"))
    assert [(i["ref"], i["seconds_left"]) for i in overnight][:1] == [(late, -8 * 3600)]

    [clock] = store.clocks_of("handoff", [late])
    ticket = store.clock("ticket", "TCK-9002", sla.episode_of(wednesday))
    for which, level in ((clock, "warned"), (clock, "breached"), (ticket, "warned")):
        assert store.claim_alert(which, level, "replica-a", dt.timedelta(seconds=30)) == "new"
        store.confirm_alert(which, level, "1700000000.000100", at=wednesday + dt.timedelta(minutes=30))
    assert store.claim_alert(clock, "warned", "replica-b", dt.timedelta(seconds=30)) == "sent"  # never twice
    store.claim_alert(ticket, "breached", "replica-a", dt.timedelta(seconds=30))  # claimed, never confirmed
    day = (local("2025-11-26 00:00"), local("2025-11-27 00:00"))
    assert sla.figures(*day) == {"whatsapp": {"warned": 0, "breached": 0},
                                 "telegram": {"warned": 2, "breached": 1},
                                 "webchat": {"warned": 0, "breached": 0}}
    assert sla.figures(*day, business_hours=True) == sla.figures(*day)
    assert sla.figures(day[1], day[1] + dt.timedelta(days=1))["telegram"] == {"warned": 0, "breached": 0}


def test_jobs_cancel_removes_only_the_named_timers(own_database: str) -> None:
    soon = db.utcnow() + dt.timedelta(hours=1)
    kept = jobs.schedule("test-cancel", "a", due_at=soon, key="test-cancel:a")
    jobs.schedule("test-cancel", "b", due_at=soon, key="test-cancel:b")
    with session_scope() as session:
        assert jobs.cancel(session, ["test-cancel:b", "test-cancel:nothing"]) == 1
        assert jobs.cancel(session, []) == 0
        assert session.scalars(select(Job.id).where(Job.kind == "test-cancel")).all() == [kept]
