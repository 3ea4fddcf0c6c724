"""bot/notices.py and bot/store/notices.py: order events stored once, one notice and one timer per
event and person, quiet hours in the person's zone, consent, exactly-once sending, the counts.

The dialogue's part (the notice said, the options answered) is in tests/connectors/test_notices.py.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot import config, conversations, db, jobs, notices
from bot.db import session_scope, utcnow
from bot.messages import Inbound, Outbound
from bot.outbox import Outbox
from bot.store import notices as store
from bot.store.models import ChannelIdentity, Contact, Conversation, Job, Message
from bot.store.notices import NOTICE_JOB, Notice, OrderEvent, Owner
from tests.helpers import temporary_database

MX = ZoneInfo("America/Mexico_City")


def local(*args: int, zone: ZoneInfo = MX) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zone)


def phone() -> str:
    return "+52155" + str(uuid.uuid4().int)[:8]


def event(kind: str = "delayed", **fields) -> OrderEvent:
    return OrderEvent(f"ev-{uuid.uuid4().hex}", "PED-10235", kind, **fields)


# -- quiet hours -----------------------------------------------------------------------------------
def test_quiet_hours_end_at_eight_in_the_persons_own_zone() -> None:
    hours = notices.parse_quiet_hours("21:00-08:00")
    assert notices.quiet_until(local(2027, 1, 15, 23, 0), "America/Mexico_City", hours) == local(2027, 1, 16, 8, 0)
    assert notices.quiet_until(local(2027, 1, 16, 7, 30), None, hours) == local(2027, 1, 16, 8, 0)  # Mexico City unless known
    assert notices.quiet_until(local(2027, 1, 16, 8, 0), None, hours) is None
    assert notices.quiet_until(local(2027, 1, 16, 20, 59), None, hours) is None
    madrid = ZoneInfo("Europe/Madrid")  # 16:00 in Mexico City is 23:00 in Madrid
    assert notices.quiet_until(local(2027, 1, 16, 16, 0), "Europe/Madrid", hours) == local(2027, 1, 17, 8, 0, zone=madrid)
    assert notices.quiet_until(local(2027, 1, 16, 14, 0), None, notices.parse_quiet_hours("13:00-15:00")) == local(2027, 1, 16, 15, 0)
    assert notices.quiet_until(local(2027, 1, 15, 23, 0), None, notices.parse_quiet_hours("off")) is None


def test_the_quiet_hours_come_from_the_environment_then_service_yml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    service_file = tmp_path / "service.yml"
    monkeypatch.setattr("bot.service.SERVICE_FILE", service_file)
    monkeypatch.delenv("NOTICE_QUIET_HOURS", raising=False)
    monkeypatch.setattr(config, "_dotenv", lambda: {})
    assert notices.quiet_hours() == (dt.time(21), dt.time(8))  # no file: the default
    service_file.write_text('time_zone: America/Mexico_City\nnotice_quiet_hours: "22:30-07:00"\n')
    assert notices.quiet_hours() == (dt.time(22, 30), dt.time(7))
    service_file.write_text("notice_quiet_hours: off\n")  # YAML reads a bare off as false
    assert notices.quiet_hours() is None
    monkeypatch.setenv("NOTICE_QUIET_HOURS", "20:00-09:00")  # the environment wins
    assert notices.quiet_hours() == (dt.time(20), dt.time(9))
    for wrong in ("9-8", "21:00", "21:00-21:00", "tonight"):
        monkeypatch.setenv("NOTICE_QUIET_HOURS", wrong)
        with pytest.raises(notices.NoticeConfigError, match="NOTICE_QUIET_HOURS"):
            notices.quiet_hours()


# -- events and notices, on both databases ---------------------------------------------------------
@pytest.fixture(params=["postgresql", "sqlite"])
def fresh_store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with temporary_database(request.param, tmp_path) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        config.reload()
        yield request.param
        db.dispose(url)
    config.reload()


@pytest.fixture
def sqlite_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh SQLite database: the notice jobs these tests leave are no other test's (or server's)."""
    with temporary_database("sqlite", tmp_path) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        config.reload()
        yield url
    config.reload()


def test_an_event_replayed_is_stored_once_with_one_notice_and_one_timer_at_the_end_of_the_quiet_hours(
    fresh_store: str,
) -> None:
    number = phone()
    owner = Owner(1, "Ana López", number, "ana.lopez@example.com")
    late = event(reason="weather", expected_date=dt.date(2027, 1, 20))
    at_night = local(2027, 1, 15, 23, 0)
    first = notices.record(late, owner, "api", at_night, notices.parse_quiet_hours("21:00-08:00"))
    assert first.new and len(first.notices) == 1
    for _ in range(3):
        assert notices.record(late, owner, "api", at_night) == store.Recorded(False)
    with session_scope() as session:
        [notice] = session.execute(select(Notice)).scalars().all()
        [job] = session.execute(select(Job).where(Job.kind == NOTICE_JOB)).scalars().all()
        contact = session.get(Contact, notice.contact_id)
        [identity] = session.execute(select(ChannelIdentity).where(ChannelIdentity.contact_id == contact.id)).scalars()
    assert job.ref == str(notice.id) and job.due_at == notice.due_at == local(2027, 1, 16, 8, 0)
    # Never wrote to us: a contact with the order's phone and a WhatsApp address at it.
    assert (contact.phone, contact.email, identity.channel, identity.address) == (
        notices_phone(number), "ana.lopez@example.com", "whatsapp", number)
    again = notices.record(event("shipped"), Owner(1, email="ANA.LOPEZ@example.com"), "cli", at_night, None)
    with session_scope() as session:
        assert session.get(Notice, again.notices[0]).contact_id == contact.id  # the same person, found by e-mail


def notices_phone(number: str) -> str:
    from bot.store.normalize import canonical_phone

    return canonical_phone(number)


def test_a_notice_is_stored_once_however_many_runs_reach_it(fresh_store: str) -> None:
    recorded = notices.record(event(), Owner(1, "Ana", phone()), "api", utcnow(), None)
    [notice_id] = recorded.notices
    plan = store.plan(notice_id)
    assert (plan.action, plan.channel) == ("send", "whatsapp")  # a conversation on WhatsApp, made for it
    outbox = Outbox({})

    def store_reply(text: str) -> list[int]:
        pending = outbox.enqueue_all(plan.conversation_id, "whatsapp", [Outbound(text)], None,
                                     lambda session, ids: store.mark_sent(notice_id, "whatsapp", session, ids))
        return [p.id for p in pending]

    [message_id] = store_reply("first run")
    with pytest.raises(store.AlreadySent):
        store_reply("a second run (another replica, a job run again)")
    with session_scope() as session:
        texts = session.execute(select(Message.text).where(Message.conversation_id == plan.conversation_id)).scalars().all()
        notice = session.get(Notice, notice_id)
        assert texts == ["first run"]  # the second run's reply was rolled back with its refusal
        assert (notice.status, notice.message_id) == ("sent", message_id)
        assert session.execute(select(Job).where(Job.kind == NOTICE_JOB)).first() is None  # its timer is done
    assert store.plan(notice_id).action == "done"


# -- consent ---------------------------------------------------------------------------------------
def contact_with(number: str) -> tuple[int, str]:
    party = conversations.resolve(Inbound("whatsapp", number, "hola", verified_phone=number, verified_by="twilio_from"))
    return party.contact_id, party.conversation_id


def test_the_latest_word_on_consent_counts_and_follows_a_merge(sqlite_store: str) -> None:
    number = phone()
    contact_id, _ = contact_with(number)
    [notice_id] = notices.record(event(), Owner(1, phone=number), "api", utcnow(), None).notices
    store.set_consent(contact_id, False, "whatsapp")
    assert store.plan(notice_id).action == "opted_out"
    store.set_consent(contact_id, True, "whatsapp")
    assert store.plan(notice_id).action == "send"
    # The same person said stop on Telegram before sharing their phone there; then the two are one.
    chat = f"tg-{uuid.uuid4().hex[:8]}"
    stranger = conversations.resolve(Inbound("telegram", chat, "ya no quiero avisos"))
    store.set_consent(stranger.contact_id, False, "telegram")
    assert store.plan(notice_id).action == "send"  # a stranger's word is not theirs
    merged = conversations.resolve(Inbound("telegram", chat, "📱", verified_phone=number, verified_by="telegram_contact"))
    assert merged.contact_id == contact_id
    assert store.plan(notice_id).action == "opted_out"
    assert [(c["opted_in"], c["channel"]) for c in store.records_of(contact_id)["notice_consents"]] == [
        (False, "whatsapp"), (True, "whatsapp"), (False, "telegram")]


# -- what operators see ------------------------------------------------------------------------------
def _notices_in_every_state() -> None:
    """One notice per delivery state (three on WhatsApp that reached a stage, one refused there; one
    failed and one pending on Telegram) and a "stop" said on Telegram."""
    statuses = {"sent": "whatsapp", "delivered": "whatsapp", "read": "whatsapp", "refused": "whatsapp",
                "failed": "telegram", "pending": "telegram"}
    for status, channel in statuses.items():
        number = phone()
        contact_id, conversation_id = contact_with(number)
        [notice_id] = notices.record(event(), Owner(1, phone=number), "api", utcnow(), None).notices
        with session_scope() as session:
            message = Message(conversation_id=conversation_id, direction="out", author="bot", channel=channel,
                              text="aviso", delivery_status=status)
            session.add(message)
            session.flush()
            store.mark_sent(notice_id, channel, session, [message.id])
    store.set_consent(contact_id, False, "telegram")


WHATSAPP_COUNTS = {"sent": 3, "delivered": 2, "read": 1, "refused": 1, "failed": 0, "opted_out": 0}
TELEGRAM_COUNTS = {"sent": 0, "delivered": 0, "read": 0, "refused": 0, "failed": 1, "opted_out": 1}


def test_counts_per_day_and_channel_reach_each_stage_once(sqlite_store: str) -> None:
    since = utcnow()
    _notices_in_every_state()
    today = utcnow().astimezone(MX).date()
    days = {(d.day, d.channel): d.counts for d in notices.daily(since, MX)}
    assert days[(today, "whatsapp")] == WHATSAPP_COUNTS
    assert days[(today, "telegram")] == TELEGRAM_COUNTS
    assert notices.daily(utcnow() + dt.timedelta(seconds=1), MX) == []


def test_the_kpis_count_the_notices_per_channel_and_day(sqlite_store: str) -> None:
    from bot import kpis

    _notices_in_every_state()
    result = kpis.figures(kpis.period("1d", None, "0"))
    channels = result["channels"]
    assert channels["whatsapp"]["notices"] == WHATSAPP_COUNTS
    assert channels["telegram"]["notices"] == TELEGRAM_COUNTS
    assert channels["webchat"]["notices"] == dict.fromkeys(WHATSAPP_COUNTS, 0)
    assert channels["all"]["notices"] == {k: WHATSAPP_COUNTS[k] + TELEGRAM_COUNTS[k] for k in WHATSAPP_COUNTS}
    today = utcnow().astimezone(kpis.service.calendar().zone).date().isoformat()
    assert {(d["day"], d["channel"]): d["sent"] for d in result["notices_daily"]} == {(today, "whatsapp"): 3,
                                                                                     (today, "telegram"): 0}
    [whatsapp_row] = [row for row in kpis.rows(result) if row["channel"] == "whatsapp"]
    assert (whatsapp_row["notices_sent"], whatsapp_row["notices_refused"]) == (3, 1)
    later = kpis.figures(kpis.period(utcnow().isoformat(), None, "0"))
    assert later["channels"]["all"]["notices"] == dict.fromkeys(WHATSAPP_COUNTS, 0)


# -- the job ---------------------------------------------------------------------------------------
class Speaker:
    """Stands in for the hub: records the turns it is asked to start."""

    def __init__(self) -> None:
        self.jobs = jobs.Scheduler(owner=f"speaker-{uuid.uuid4().hex[:6]}")
        self.turns: list[tuple[str, str, str, dict]] = []

    async def speak_first(self, conversation_id, channel, intent, entities, settle) -> list[int]:
        self.turns.append((conversation_id, channel, intent, entities))
        return []


def test_the_job_waits_out_the_quiet_hours_and_a_person_at_the_desk(sqlite_store: str) -> None:
    number = phone()
    contact_id, conversation_id = contact_with(number)
    [notice_id] = notices.record(event(), Owner(1, phone=number), "api", utcnow(), None).notices
    speaker = Speaker()
    night = local(2027, 1, 15, 23, 0)
    notifier = notices.Notifier(speaker, clock=lambda: night, hours=notices.parse_quiet_hours("21:00-08:00"))

    def run() -> Job:
        job = jobs.take(NOTICE_JOB, str(notice_id), speaker.jobs.owner)
        asyncio.run(notifier.run(job))
        with session_scope() as session:
            return session.execute(select(Job).where(Job.kind == NOTICE_JOB, Job.ref == str(notice_id))).scalar_one()

    assert run().due_at == local(2027, 1, 16, 8, 0) and speaker.turns == []  # quiet at run time too
    with session_scope() as session:
        session.get(Conversation, conversation_id).status = "agent"
    notifier.clock = lambda: local(2027, 1, 16, 9, 0)
    assert run().due_at == local(2027, 1, 16, 9, 15) and speaker.turns == []  # an agent has them: later
    with session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        conversation.status, conversation.language = "bot", "en"
    job = jobs.take(NOTICE_JOB, str(notice_id), speaker.jobs.owner)
    asyncio.run(notifier.run(job))
    assert speaker.turns == [(conversation_id, "whatsapp", "EXTERNAL_order_notice",
                              {"notice_id": str(notice_id), "notice_language": "en"})]
