"""The audit trail (bot/audit.py): appended, read back by time, actor and contact; never personal
data in it; and the database itself refuses to change or delete an entry, on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot import audit, db
from bot.db import session_scope, utcnow
from tests.helpers import temporary_database


def test_entries_are_read_back_by_time_actor_and_contact(database_url):
    start = utcnow()
    agent = f"agent:U{uuid.uuid4().hex[:8].upper()}"
    audit.record(agent, "handoff.claim", 41, {"conversation": "c-1"})
    audit.record("operator:ana", "contacts.export", 41, {"messages": 3, "sections": ["contact", "messages"]})
    audit.record(agent, "handoff.resolve", 42)
    everything = audit.entries(start)
    assert [(e["actor"], e["action"], e["contact_id"]) for e in everything][-3:] == [
        (agent, "handoff.claim", 41), ("operator:ana", "contacts.export", 41), (agent, "handoff.resolve", 42)]
    assert everything[-3]["detail"] == {"conversation": "c-1"} and everything[-1]["detail"] is None
    bare_id = agent.split(":")[1]
    assert [e["action"] for e in audit.entries(start, who=bare_id)] == ["handoff.claim", "handoff.resolve"]
    assert [e["action"] for e in audit.entries(start, who=agent, contact_id=42)] == ["handoff.resolve"]
    assert {e["actor"] for e in audit.entries(start, who="agent:")} == {agent}
    assert audit.entries(start, who="agent:U") == []  # an actor is exact, a bare id is exact, "kind:" is a kind
    assert audit.entries(start, until=start) == [] and audit.entries(utcnow() + dt.timedelta(seconds=1)) == []


@pytest.mark.parametrize("detail", [
    {"phone": "+52 1 55 1234 5678"}, {"who": "ana.lopez@example.com"}, {"said": "x" * 200},
    {"nested": {"list": ["5215512345678"]}}, {"when": dt.datetime(2026, 1, 1)},
])
def test_personal_data_is_refused_in_the_detail(database_url, detail):
    before = len(audit.entries(utcnow() - dt.timedelta(seconds=5)))
    with pytest.raises(audit.PersonalDetail):
        audit.record("operator:ana", "contacts.export", 1, detail)
    assert len(audit.entries(utcnow() - dt.timedelta(seconds=5))) == before


@pytest.mark.parametrize("actor, action", [("U123", "handoff.claim"), ("agent:U1 2", "handoff.claim"),
                                           ("operator:ana", "claim"), ("operator:5215512345678", "contacts.erase")])
def test_actor_and_action_have_their_shape(database_url, actor, action):
    with pytest.raises(ValueError):
        audit.record(actor, action)


def test_an_entry_is_stored_with_the_callers_transaction_or_not_at_all(database_url):
    start = utcnow()
    with pytest.raises(RuntimeError):
        with session_scope() as session:
            audit.record("operator:ana", "contacts.rectify", 7, {"fields": ["name"]}, session=session)
            raise RuntimeError("the rectification failed")
    assert audit.entries(start, contact_id=7) == []
    with session_scope() as session:
        audit.record("operator:ana", "contacts.rectify", 7, {"fields": ["name"]}, session=session)
    assert [e["action"] for e in audit.entries(start, contact_id=7)] == ["contacts.rectify"]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_database_refuses_to_change_or_delete_an_entry(kind: str, tmp_path: Path) -> None:
    with temporary_database(kind, tmp_path) as url:
        with db.session_scope(url) as session:
            audit.record("operator:ana", "contacts.erase", 9, {"messages": 2}, session=session)
        for statement in ("UPDATE audit_log SET actor = 'operator:eve'", "DELETE FROM audit_log"):
            with pytest.raises(DBAPIError, match="append-only"):
                with db.get_engine(url).begin() as connection:
                    connection.execute(text(statement))
        with db.get_engine(url).connect() as connection:
            assert connection.execute(text("SELECT actor, contact_id FROM audit_log")).all() == [("operator:ana", 9)]
        db.dispose(url)
