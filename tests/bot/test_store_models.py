"""The conversation store: migrations, SQLite settings, constraints and timestamps (on a temp SQLite file)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Iterator

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from bot import db
from tests.helpers import temporary_database
from bot.store import (
    ChannelIdentity,
    Contact,
    Conversation,
    LinkAttempt,
    LinkCode,
    Message,
    canonical_phone,
    normalize_email,
    phone_variants,
    same_phone,
)
from ops.migrate import alembic_config, downgrade, downgrade_core, upgrade, upgrade_core


def core_head() -> str:
    """The core chain's latest revision (each revision's own test pins what it does)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


STORE_TABLES = {"contacts", "channel_identities", "conversations", "messages", "link_codes", "link_attempts",
                "desk_threads", "jobs", "care_sessions", "handoffs", "sla_clocks", "sla_alerts", "desk_posts",
                "audit_log", "stream_tickets",
                "order_events", "notices", "notice_consents"}
BUSINESS_TABLES = {"branches", "products", "stock", "customers", "distributors", "orders", "order_items",
                   "tickets"}


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    """A migrated, empty SQLite file."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    yield url
    db.dispose(url)


@pytest.fixture
def conversation(url: str) -> str:
    with db.session_scope(url) as s:
        contact = Contact(name="Ana")
        s.add(contact)
        s.flush()
        s.add(Conversation(id="conv-1", contact_id=contact.id, last_channel="whatsapp"))
    return "conv-1"


def _tables(url: str) -> set[str]:
    return set(inspect(db.get_engine(url)).get_table_names())


# Migrations


def test_upgrade_on_an_empty_database_creates_every_table(url: str) -> None:
    assert _tables(url) == STORE_TABLES | BUSINESS_TABLES | {"alembic_version", "backend_alembic_version"}
    with db.get_engine(url).connect() as conn:
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) == core_head()
        assert conn.scalar(text("SELECT version_num FROM backend_alembic_version")) == "b0001"


def test_the_delay_code_arrives_on_a_database_with_orders_and_keeps_their_lines(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade_core(url, "0001")
    with db.get_engine(url).begin() as conn:
        conn.execute(text("INSERT INTO customers (id, name, email) VALUES (1, 'Ana', 'ana@example.com')"))
        conn.execute(text("INSERT INTO products (sku, name, category, price, aliases) VALUES ('CF258A', 'Tóner', 'toner', 10, '[]')"))
        conn.execute(text("INSERT INTO orders (id, customer_id, status, delay_reason, created_at) "
                          "VALUES ('PED-1', 1, 'delayed', 'lluvias', '2026-12-01 10:00:00')"))
        conn.execute(text("INSERT INTO order_items (order_id, sku, quantity, unit_price) VALUES ('PED-1', 'CF258A', 2, 10)"))
    upgrade(url)
    with db.get_engine(url).begin() as conn:
        assert conn.execute(text("SELECT delay_code, delay_reason FROM orders")).all() == [(None, "lluvias")]
        assert conn.scalar(text("SELECT count(*) FROM order_items")) == 1  # no table copy cascaded into them
        conn.execute(text("UPDATE orders SET delay_code = 'weather'"))
    with pytest.raises(IntegrityError):
        with db.get_engine(url).begin() as conn:
            conn.execute(text("UPDATE orders SET delay_code = 'because'"))
    downgrade_core(url, "0001")
    with db.get_engine(url).connect() as conn:
        assert conn.execute(text("SELECT id, delay_reason FROM orders")).all() == [("PED-1", "lluvias")]
        assert conn.scalar(text("SELECT count(*) FROM order_items")) == 1
    db.dispose(url)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_slack_threads_move_to_desk_threads_and_back_with_no_row_lost(kind: str, tmp_path: Path) -> None:
    """0003 copies each conversation's slack_thread_ts to desk_threads, then drops the column,
    without a table copy that would cascade-delete messages (ON DELETE CASCADE)."""
    with temporary_database(kind, tmp_path) as url:
        downgrade_core(url, "0002")
        at = dt.datetime(2026, 12, 1, 10, 0)
        with db.get_engine(url).begin() as conn:
            conn.execute(text("INSERT INTO contacts (id, name, created_at, updated_at) VALUES (1, 'Ana', :at, :at)"), {"at": at})
            for conversation, thread in (("c-1", "1700000000.000100"), ("c-2", None), ("c-3", "1700000000.000300")):
                conn.execute(text("INSERT INTO conversations (id, contact_id, status, created_at, slack_thread_ts) "
                                  "VALUES (:id, 1, 'agent', :at, :ts)"), {"id": conversation, "at": at, "ts": thread})
                conn.execute(text("INSERT INTO messages (conversation_id, direction, author, channel, delivery_status, "
                                  "attempts, created_at) VALUES (:id, 'in', 'customer', 'whatsapp', 'received', 0, :at)"),
                             {"id": conversation, "at": at})
        upgrade_core(url)
        with db.get_engine(url).connect() as conn:
            threads = conn.execute(text("SELECT conversation_id, thread_ts FROM desk_threads ORDER BY conversation_id"))
            assert threads.all() == [("c-1", "1700000000.000100"), ("c-3", "1700000000.000300")]
            assert conn.scalar(text("SELECT count(*) FROM messages")) == 3  # no cascade from a table copy
            assert conn.scalar(text("SELECT count(*) FROM conversations")) == 3
        assert "slack_thread_ts" not in {c["name"] for c in inspect(db.get_engine(url)).get_columns("conversations")}
        command.check(alembic_config(url))  # the models say what the migrations made
        with db.get_engine(url).begin() as conn:  # the desk's table follows its conversation
            conn.execute(text("DELETE FROM conversations WHERE id = 'c-3'"))
            assert conn.scalar(text("SELECT count(*) FROM desk_threads")) == 1
        downgrade_core(url, "0002")
        with db.get_engine(url).connect() as conn:
            back = conn.execute(text("SELECT id, slack_thread_ts FROM conversations ORDER BY id")).all()
            assert back == [("c-1", "1700000000.000100"), ("c-2", None)]
            assert conn.scalar(text("SELECT count(*) FROM messages")) == 2
        assert "desk_threads" not in _tables(url)
        db.dispose(url)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_work_left_before_the_upgrade_becomes_claimable_jobs(kind: str, tmp_path: Path) -> None:
    """0004: an inbound message still to process and a reply still to send, stored by a version
    that kept that work in memory, each get their job; nothing else does."""
    with temporary_database(kind, tmp_path) as url:
        downgrade_core(url, "0003")
        at = dt.datetime(2026, 12, 1, 10, 0)
        with db.get_engine(url).begin() as conn:
            conn.execute(text("INSERT INTO contacts (id, name, created_at, updated_at) VALUES (1, 'Ana', :at, :at)"), {"at": at})
            conn.execute(text("INSERT INTO conversations (id, contact_id, status, created_at) VALUES ('c-1', 1, 'bot', :at)"),
                         {"at": at})
            for direction, status in (("in", "received"), ("in", "processed"), ("out", "pending"), ("out", "sent")):
                conn.execute(text("INSERT INTO messages (conversation_id, direction, author, channel, delivery_status, "
                                  "attempts, created_at) VALUES ('c-1', :d, :a, 'whatsapp', :s, 0, :at)"),
                             {"d": direction, "a": "customer" if direction == "in" else "bot", "s": status, "at": at})
        upgrade_core(url)
        with db.get_engine(url).connect() as conn:
            jobs = conn.execute(text("SELECT j.kind, m.delivery_status FROM jobs j JOIN messages m "
                                     "ON CAST(m.id AS VARCHAR(64)) = j.ref ORDER BY j.kind")).all()
            assert jobs == [("deliver", "pending"), ("inbound", "received")]
            assert conn.scalar(text("SELECT count(*) FROM jobs WHERE claimed_by IS NULL")) == 2  # anyone's
        command.check(alembic_config(url))  # the models say what the migrations made
        downgrade_core(url, "0003")
        assert "jobs" not in _tables(url)
        with db.get_engine(url).connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM messages")) == 4
        db.dispose(url)


def _insert_message(conn, conversation: str, direction: str, author: str, channel: str, at: dt.datetime,
                    sent: bool = False) -> None:
    conn.execute(text("INSERT INTO messages (conversation_id, direction, author, channel, delivery_status, attempts, "
                      "private, created_at, sent_at) VALUES (:c, :d, :a, :ch, :s, 0, :p, :at, :sent)"),
                 {"c": conversation, "d": direction, "a": author, "ch": channel, "s": "sent" if sent else "processed",
                  "p": False, "at": at, "sent": at if sent else None})


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_care_cycles_are_derived_from_the_messages_and_conversations_already_stored(kind: str, tmp_path: Path) -> None:
    """0008: sessions split at gaps over an hour, the conversation's last hand-off with its
    times, agent and rating, a returned one; the tables and the column go on downgrade."""
    start = dt.datetime(2026, 12, 1, 16, 0)  # Tuesday 10:00 in Mexico City (naive UTC, as stored)
    minutes = lambda n: start + dt.timedelta(minutes=n)  # noqa: E731
    with temporary_database(kind, tmp_path) as url:
        downgrade_core(url, "0004")
        with db.get_engine(url).begin() as conn:
            conn.execute(text("INSERT INTO contacts (id, name, created_at, updated_at) VALUES (1, 'Ana', :at, :at)"), {"at": start})
            conn.execute(text("INSERT INTO conversations (id, contact_id, status, created_at, handed_off_at, resolved_at, "
                              "csat, assigned_agent, last_channel) VALUES ('c-1', 1, 'closed', :at, :h, :r, 4, 'U1', 'whatsapp'), "
                              "('c-2', 1, 'bot', :at, :h2, NULL, NULL, NULL, 'telegram'), ('c-3', 1, 'bot', :at, NULL, NULL, NULL, NULL, NULL)"),
                         {"at": start, "h": minutes(10), "r": minutes(30), "h2": minutes(60)})
            for at, direction, author, sent in ((0, "in", "customer", False), (0.05, "out", "bot", True), (5, "in", "customer", False),
                                                (10, "in", "customer", False), (15, "out", "agent", True), (31, "in", "customer", False),
                                                (180, "in", "customer", False), (180.02, "out", "bot", True)):
                _insert_message(conn, "c-1", direction, author, "whatsapp", minutes(at), sent)
            _insert_message(conn, "c-2", "in", "customer", "telegram", minutes(59))
        upgrade_core(url)
        command.check(alembic_config(url))
        with db.get_engine(url).connect() as conn:
            sessions = conn.execute(text("SELECT conversation_id, seq, channel, messages, handoffs, reply_s, reply_business_s, "
                                         "day FROM care_sessions ORDER BY conversation_id, seq")).all()
            handoffs = conn.execute(text("SELECT h.conversation_id, h.channel, h.outcome, h.reply_s, h.resolution_s, "
                                         "h.resolution_business_s, h.csat, h.agent, s.seq, h.csat_answered_at, h.ended_at "
                                         "FROM handoffs h LEFT JOIN care_sessions s ON s.id = h.session_id "
                                         "ORDER BY h.conversation_id")).all()
        day = dt.date(2026, 12, 1)
        assert [tuple(row[:7]) for row in sessions] == [("c-1", 1, "whatsapp", 4, 1, 3.0, 3.0), ("c-1", 2, "whatsapp", 1, 0, 1.2, 1.2),
                                                         ("c-2", 1, "telegram", 1, 1, None, None)]
        assert {str(row[7])[:10] for row in sessions} == {str(day)}
        resolved, returned = handoffs
        assert tuple(resolved[:9]) == ("c-1", "whatsapp", "resolved", 300.0, 1200.0, 1200.0, 4, "U1", 1)
        assert str(resolved[9])[:19] == str(minutes(31))[:19]
        assert tuple(returned[:5]) == ("c-2", "telegram", "returned", None, None) and str(returned[10])[:19] == str(minutes(60))[:19]
        downgrade_core(url, "0004")
        assert not {"care_sessions", "handoffs"} & _tables(url)
        assert "response" not in {c["name"] for c in inspect(db.get_engine(url)).get_columns("messages")}
        db.dispose(url)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_desk_messages_posted_before_0005_are_listed_for_erasure(kind: str, tmp_path: Path) -> None:
    """0005: each conversation's thread root and its agents' replies, posted before desk_posts
    existed, are listed (channel empty: the desk's own); contacts and conversations get their
    new columns, the audit trail its table; and back."""
    with temporary_database(kind, tmp_path) as url:
        downgrade_core(url, "0004")
        at = dt.datetime(2026, 12, 1, 10, 0)
        with db.get_engine(url).begin() as conn:
            conn.execute(text("INSERT INTO contacts (id, name, created_at, updated_at) VALUES (1, 'Ana', :at, :at)"), {"at": at})
            conn.execute(text("INSERT INTO conversations (id, contact_id, status, created_at, handed_off_at) "
                              "VALUES ('c-1', 1, 'agent', :at, :at)"), {"at": at})
            conn.execute(text("INSERT INTO desk_threads (conversation_id, thread_ts) VALUES ('c-1', '1700000000.000100')"))
            for key, author in (("msg:1700000000.000200", "agent"), ("thread:c-1:1", "system")):
                conn.execute(text("INSERT INTO messages (conversation_id, direction, author, channel, provider_message_id, "
                                  "delivery_status, attempts, created_at, private) "
                                  "VALUES ('c-1', 'in', :a, 'slack', :k, 'processed', 0, :at, :p)"),
                             {"a": author, "k": key, "at": at, "p": True})
        upgrade_core(url)
        with db.get_engine(url).connect() as conn:
            posts = conn.execute(text("SELECT conversation_id, channel, ts, kind FROM desk_posts ORDER BY ts")).all()
            assert posts == [("c-1", "", "1700000000.000100", "summary"), ("c-1", "", "1700000000.000200", "agent")]
            assert conn.execute(text("SELECT email_verified_by FROM contacts")).all() == [(None,)]
            assert conn.execute(text("SELECT anonymised_at FROM conversations")).all() == [(None,)]
        command.check(alembic_config(url))  # the models say what the migrations made
        downgrade_core(url, "0004")
        assert not {"desk_posts", "audit_log", "stream_tickets"} & _tables(url)
        with db.get_engine(url).connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM messages")) == 2
        db.dispose(url)


def test_upgrade_twice_is_a_no_op_and_downgrade_removes_everything(url: str) -> None:
    upgrade(url)
    assert STORE_TABLES <= _tables(url)
    downgrade(url)
    assert _tables(url) == {"alembic_version", "backend_alembic_version"}


def test_models_match_migrations_and_rasa_events_table_is_ignored(url: str) -> None:
    with db.get_engine(url).begin() as conn:  # what Rasa's SQLTrackerStore adds to the same database
        conn.execute(text("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255))"))
    command.check(alembic_config(url))  # raises if autogenerate would change anything


def test_upgrade_uses_the_configured_database_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'configured.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    upgrade()
    assert STORE_TABLES <= _tables(url)
    db.dispose(url)


def test_store_indexes(url: str) -> None:
    indexes = {tuple(ix["column_names"]) for ix in inspect(db.get_engine(url)).get_indexes("messages")}
    assert ("conversation_id", "id") in indexes
    assert ("delivery_status", "next_attempt_at") in indexes


# Engine and sessions


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(url: str) -> None:
    with db.get_engine(url).connect() as conn:
        assert conn.scalar(text("PRAGMA journal_mode")) == "wal"
        assert conn.scalar(text("PRAGMA foreign_keys")) == 1
        assert conn.scalar(text("PRAGMA busy_timeout")) == 5000


def test_engines_are_cached_per_url(url: str, tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert db.get_engine(url) is db.get_engine(url)
    assert db.get_engine(other) is not db.get_engine(url)
    db.dispose(other)


def test_session_scope_commits_on_success_and_rolls_back_on_error(url: str) -> None:
    with db.session_scope(url) as s:
        s.add(Contact(name="kept"))
    with pytest.raises(RuntimeError):
        with db.session_scope(url) as s:
            s.add(Contact(name="dropped"))
            s.flush()
            raise RuntimeError("boom")
    with db.session_scope(url) as s:
        assert s.scalars(select(Contact.name)).all() == ["kept"]


# Contacts and identities


def test_contact_phone_and_email_are_stored_canonical(url: str) -> None:
    with db.session_scope(url) as s:
        s.add(Contact(name="Ana", phone="+52 1 55 1234 5678", email=" Ana.Lopez@Example.COM "))
    with db.session_scope(url) as s:
        contact = s.scalars(select(Contact)).one()
        assert (contact.phone, contact.email) == ("+525512345678", "ana.lopez@example.com")
        assert contact.is_distributor is False and contact.created_at.tzinfo is not None


def test_one_phone_in_two_spellings_is_one_contact(url: str) -> None:
    with pytest.raises(IntegrityError):
        with db.session_scope(url) as s:
            s.add_all([Contact(phone="+5215512345678"), Contact(phone="+525512345678")])


def test_contact_refuses_a_non_phone(url: str) -> None:
    with pytest.raises(ValueError):
        Contact(phone="call me maybe")


def test_channel_address_belongs_to_one_contact(url: str) -> None:
    with db.session_scope(url) as s:
        ana, bob = Contact(name="Ana"), Contact(name="Bob")
        s.add_all([ana, bob])
        s.flush()
        s.add(ChannelIdentity(channel="telegram", address="123", contact_id=ana.id, verified_by="link_code"))
        s.add(ChannelIdentity(channel="whatsapp", address="123", contact_id=ana.id))  # other channel: fine
        bob_id = bob.id
    with pytest.raises(IntegrityError):
        with db.session_scope(url) as s:
            s.add(ChannelIdentity(channel="telegram", address="123", contact_id=bob_id))


def test_deleting_a_contact_deletes_its_identities(url: str) -> None:
    with db.session_scope(url) as s:
        ana = Contact(name="Ana")
        s.add(ana)
        s.flush()
        s.add(ChannelIdentity(channel="webchat", address="session-1", contact_id=ana.id))
    with db.get_engine(url).begin() as conn:
        conn.execute(text("DELETE FROM contacts"))
    with db.session_scope(url) as s:
        assert s.scalars(select(ChannelIdentity)).all() == []


def test_unknown_verifier_is_refused(url: str) -> None:
    with pytest.raises(IntegrityError):
        with db.session_scope(url) as s:
            ana = Contact(name="Ana")
            s.add(ana)
            s.flush()
            s.add(ChannelIdentity(channel="webchat", address="x", contact_id=ana.id, verified_by="trust_me"))


# Conversations and messages


def test_new_conversation_and_message_defaults(url: str, conversation: str) -> None:
    with db.session_scope(url) as s:
        s.add(Message(conversation_id=conversation, direction="in", author="customer", channel="whatsapp",
                      text="hola", payload={"buttons": [{"title": "Sí", "payload": "/affirm"}]}))
    with db.session_scope(url) as s:
        conv = s.get(Conversation, conversation)
        assert conv.status == "bot" and conv.created_at.tzinfo is dt.timezone.utc
        message = conv.messages[0]
        assert (message.delivery_status, message.attempts, message.private) == ("received", 0, False)
        assert message.payload == {"buttons": [{"title": "Sí", "payload": "/affirm"}]}


def test_provider_message_id_is_unique_per_channel_but_may_be_missing(url: str, conversation: str) -> None:
    def message(channel: str, provider_id: str | None) -> Message:
        return Message(conversation_id=conversation, direction="in", author="customer", channel=channel,
                       provider_message_id=provider_id, text="x")

    with db.session_scope(url) as s:
        s.add_all([message("whatsapp", "SM1"), message("telegram", "SM1"),
                   message("webchat", None), message("webchat", None)])
    with pytest.raises(IntegrityError):  # a provider retry of the same message
        with db.session_scope(url) as s:
            s.add(message("whatsapp", "SM1"))


def test_message_needs_an_existing_conversation(url: str) -> None:
    with pytest.raises(IntegrityError):
        with db.session_scope(url) as s:
            s.add(Message(conversation_id="missing", direction="in", author="customer", channel="rest"))


@pytest.mark.parametrize(
    "field, value", [("status", "snoozed"), ("csat", 6), ("language", "fr")]
)
def test_conversation_values_outside_the_contract_are_refused(url: str, conversation: str, field: str,
                                                              value: object) -> None:
    with pytest.raises(IntegrityError):
        with db.session_scope(url) as s:
            setattr(s.get(Conversation, conversation), field, value)


@pytest.mark.parametrize("field, value", [("direction", "sideways"), ("author", "robot"),
                                          ("delivery_status", "lost")])
def test_message_values_outside_the_contract_are_refused(url: str, conversation: str, field: str,
                                                         value: str) -> None:
    values = {"conversation_id": conversation, "direction": "out", "author": "bot", "channel": "rest"}
    values[field] = value
    with pytest.raises(IntegrityError):
        with db.session_scope(url) as s:
            s.add(Message(**values))


# Time


def test_datetimes_come_back_aware_utc_whatever_zone_they_went_in(url: str, conversation: str) -> None:
    mexico = dt.timezone(dt.timedelta(hours=-6))
    handed_off = dt.datetime(2025, 3, 1, 9, 30, tzinfo=mexico)
    with db.session_scope(url) as s:
        s.get(Conversation, conversation).handed_off_at = handed_off
    with db.session_scope(url) as s:
        stored = s.get(Conversation, conversation).handed_off_at
    assert stored == handed_off and stored.tzinfo is dt.timezone.utc and stored.hour == 15
    with db.get_engine(url).connect() as conn:  # naive UTC on disk, the same on every database
        raw = conn.scalar(text("SELECT handed_off_at FROM conversations"))
    assert str(raw).startswith("2025-03-01 15:30:00")


def test_naive_datetimes_are_refused(url: str, conversation: str) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        with db.session_scope(url) as s:
            s.get(Conversation, conversation).resolved_at = dt.datetime(2025, 3, 1, 9, 30)


# Linking


def test_link_codes_are_unique_and_expire(url: str) -> None:
    now = db.utcnow()
    with db.session_scope(url) as s:
        ana = Contact(name="Ana")
        s.add(ana)
        s.flush()
        code = LinkCode(code="LINK-ABCD1234", contact_id=ana.id, expires_at=now + dt.timedelta(minutes=10))
        s.add(code)
        s.add(LinkAttempt(key="telegram:123", success=False))
        ana_id = ana.id
    assert code.is_live(now) and not code.is_live(now + dt.timedelta(minutes=11))
    with pytest.raises(IntegrityError):
        with db.session_scope(url) as s:
            s.add(LinkCode(code="LINK-ABCD1234", contact_id=ana_id, expires_at=now))
    with db.session_scope(url) as s:
        attempt = s.scalars(select(LinkAttempt)).one()
        assert attempt.key == "telegram:123" and attempt.created_at.tzinfo is not None


# Normalisation


@pytest.mark.parametrize(
    "raw, expected",
    [("+5215512345678", "+525512345678"), ("+525512345678", "+525512345678"),
     ("whatsapp:+5215512345678", "+525512345678"), ("5215512345678", "+525512345678"),
     ("55 1234 5678", "+525512345678"), ("+1 (415) 555-0123", "+14155550123"),
     ("0052 55 1234 5678", "+525512345678")],
)
def test_canonical_phone(raw: str, expected: str) -> None:
    assert canonical_phone(raw) == expected


@pytest.mark.parametrize("raw", ["", "12345", "hola", "+0123456789"])
def test_canonical_phone_refuses_non_phones(raw: str) -> None:
    with pytest.raises(ValueError):
        canonical_phone(raw)


def test_phone_variants_and_same_phone() -> None:
    assert phone_variants("+5215512345678") == ["+525512345678", "+5215512345678"]
    assert phone_variants("+14155550123") == ["+14155550123"]
    assert phone_variants("nope") == []
    assert same_phone("+5215512345678", "+52 55 1234 5678")
    assert not same_phone("+5215512345678", "+5215512345679")
    assert not same_phone(None, "+5215512345678")


def test_normalize_email() -> None:
    assert normalize_email("  Ana.Lopez@Example.COM") == "ana.lopez@example.com"
    with pytest.raises(ValueError):
        normalize_email("ana at example")
