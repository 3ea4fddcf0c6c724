"""Retention (bot/retention.py): conversations idle past RETENTION_DAYS are anonymised by a daily
durable job, scheduled once per day however many replicas ask; the counts stay. On the session's
test database, whose other conversations are recent and must come through untouched."""
from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import select, update

from bot import audit, conversations, jobs, retention
from bot.config import ROOT
from bot.db import session_scope, utcnow
from bot.erasure import ERASED, events_table
from bot.messages import Inbound, Outbound
from bot.store import desk
from bot.store.models import ChannelIdentity, Contact, Conversation, Job, Message
from bot.tracker_store import UnisonoTrackerStore


def person(text: str, days_ago: int = 0) -> tuple[int, str]:
    """(contact, conversation) of a WhatsApp customer who wrote `text` and was answered, `days_ago`."""
    phone = "+52155" + str(uuid.uuid4().int)[:8]
    inbound = Inbound("whatsapp", phone, text, display_name="Persona Antigua", verified_phone=phone,
                      verified_by="twilio_from")
    party = conversations.resolve(inbound)
    conversations.store_inbound(party, inbound, text)
    conversations.store_outbound(party.conversation_id, "whatsapp", Outbound("con gusto"))
    tracker = DialogueStateTracker.from_events(party.conversation_id, [UserUttered(text)])
    asyncio.run(UnisonoTrackerStore(Domain.load(str(ROOT / "domain.yml"))).save(tracker))
    if days_ago:
        then = utcnow() - dt.timedelta(days=days_ago)
        with session_scope() as session:
            session.execute(update(Message).where(Message.conversation_id == party.conversation_id).values(created_at=then))
            session.execute(update(Conversation).where(Conversation.id == party.conversation_id).values(created_at=then))
            session.execute(update(ChannelIdentity).where(ChannelIdentity.contact_id == party.contact_id)
                            .values(last_seen_at=then, created_at=then))
    return party.contact_id, party.conversation_id


def texts(conversation_id: str) -> list[str]:
    with session_scope() as session:
        return list(session.execute(select(Message.text).where(Message.conversation_id == conversation_id)
                                    .order_by(Message.id)).scalars())


def events(conversation_id: str) -> int:
    table = events_table()
    with session_scope() as session:
        return len(session.execute(select(table.c.id).where(table.c.sender_id == conversation_id)).all())


def test_conversations_idle_past_the_retention_period_are_anonymised_and_recent_ones_kept(database_url, monkeypatch):
    monkeypatch.delenv("RETENTION_DAYS", raising=False)  # the default: 730 days
    old_contact, old = person("mi pedido de hace años", days_ago=731)
    new_contact, recent = person("mi pedido de hoy")
    desk.record_post(old, "C0AGENTS01", f"{uuid.uuid4().int % 10**6}.000100", "summary")
    assert events(old) == 1

    counts = retention.anonymise_idle()
    assert counts["conversations"] >= 1 and counts["contacts"] >= 1 and counts["desk_posts"] >= 1
    assert texts(old) == [ERASED, ERASED] and events(old) == 0
    with session_scope() as session:
        contact = session.get(Contact, old_contact)
        assert (contact.name, contact.phone) == (None, None)
        assert session.execute(select(ChannelIdentity).where(ChannelIdentity.contact_id == old_contact)).first() is None
        assert session.get(Conversation, old).anonymised_at is not None
        erase_jobs = session.execute(select(Job).where(Job.kind == desk.ERASE_JOB)).scalars().all()
        assert any(job.payload["ts"] == desk.posts_of([old])[0].ts for job in erase_jobs)  # the desk deletes its copy
    # The recent conversation, its contact and dialogue are untouched; the old one keeps its counts.
    assert texts(recent) == ["mi pedido de hoy", "con gusto"] and events(recent) == 1
    with session_scope() as session:
        assert session.get(Contact, new_contact).phone is not None

    assert retention.anonymise_idle()["conversations"] == 0  # done once; nothing new
    trail = audit.entries(utcnow() - dt.timedelta(minutes=5), who="system:retention")
    assert [e["action"] for e in trail[-2:]] == ["retention.anonymise"] * 2 and trail[-1]["detail"]["days"] == 730


def test_a_conversation_that_came_back_to_life_is_anonymised_again_once_idle_again(database_url):
    _, old = person("hola de nuevo", days_ago=40)
    assert retention.anonymise_idle(days=30)["conversations"] >= 1 and texts(old) == [ERASED, ERASED]
    with session_scope() as session:
        session.add(Message(conversation_id=old, direction="in", author="customer", channel="whatsapp",
                            text="ya volví", delivery_status="processed"))
    retention.anonymise_idle(days=30)
    assert texts(old)[-1] == "ya volví"  # active again: kept
    with session_scope() as session:  # as if 31 days had passed since it came back
        session.execute(update(Conversation).where(Conversation.id == old)
                        .values(anonymised_at=utcnow() - dt.timedelta(days=35)))
        session.execute(update(Message).where(Message.conversation_id == old, Message.text == "ya volví")
                        .values(created_at=utcnow() - dt.timedelta(days=31)))
    retention.anonymise_idle(days=30)
    assert texts(old) == [ERASED] * 3


async def test_the_daily_run_is_scheduled_once_whoever_asks_and_sets_the_next_day(database_url):
    now = dt.datetime(2031, 3, 4, 9, 30, tzinfo=dt.timezone.utc)
    assert retention.next_run(now) == dt.datetime(2031, 3, 5, 8, 0, tzinfo=dt.timezone.utc)
    assert retention.next_run(now.replace(hour=7)) == dt.datetime(2031, 3, 4, 8, 0, tzinfo=dt.timezone.utc)
    first = retention.schedule_next(now)
    assert first is not None and retention.schedule_next(now) is None  # a second replica asking: no second job
    scheduler = jobs.Scheduler(owner="test-retention")
    scheduler.handle(retention.JOB, retention.run_job)
    due = retention.next_run(now)
    assert await scheduler.run_due([retention.JOB], due_by=due) >= 1
    with session_scope() as session:
        keys = set(session.execute(select(Job.key).where(Job.kind == retention.JOB)).scalars())
    assert "retention:2031-03-05" not in keys and "retention:2031-03-06" in keys
