"""A person's ARCO rights: export everything (access), rectify name and e-mail, erase it everywhere
(Rasa's tracker included), each request in the audit trail under the operator who made it.
Erasure at the Slack desk: tests/connectors/slack/test_erasure.py."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
import uuid

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import select

from actions.backend.base import NewTicket
from actions.backend.sql import SqlBackend
from bot import audit, conversations, linking
from bot.config import ROOT
from bot.db import session_scope
from bot.messages import Inbound, Outbound
from bot.store.models import Contact, Conversation, Message
from bot.tracker_store import UnisonoTrackerStore
from ops import cli, privacy

OPERATOR = "operator:test-ana"


def make_person(database_url: str) -> tuple[str, str, str]:
    phone = "+52155" + str(uuid.uuid4().int)[:8]
    email = f"p{uuid.uuid4().hex[:8]}@example.com"
    inbound = Inbound(channel="whatsapp", address=phone, text=f"mi correo es {email}", verified_phone=phone,
                      verified_by="twilio_from", provider_message_id=f"SM{uuid.uuid4().hex}")
    party = conversations.resolve(inbound)
    conversations.store_inbound(party, inbound, inbound.text)
    SqlBackend(database_url).create_ticket(
        NewTicket(category="warranty", description=f"no prende, llámenme al {phone}", contact_email=email,
                  conversation_id=party.conversation_id)
    )
    store = UnisonoTrackerStore(Domain.load(str(ROOT / "domain.yml")))
    tracker = DialogueStateTracker.from_events(party.conversation_id, [UserUttered(inbound.text), SlotSet("email", email)])
    asyncio.run(store.save(tracker))
    return phone, email, party.conversation_id


def since_start() -> dt.datetime:
    return dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)


def test_export_then_erase_leaves_nothing_personal(database_url):
    phone, email, conversation_id = make_person(database_url)
    contact_id = privacy.find_contact(phone)
    exported = privacy.export(contact_id, actor=OPERATOR)
    dumped = json.dumps(exported)
    assert email in dumped and "no prende" in dumped and len(exported["dialogue_events"]) >= 2
    assert exported["identities"][0]["channel"] == "whatsapp"
    assert exported["format"] == "unisono.contact-export/1"

    counts = privacy.erase(contact_id, actor=OPERATOR)
    assert counts["messages"] == 1 and counts["tickets"] == 1 and counts["dialogue_events"] >= 2
    after = privacy.export(contact_id, actor=OPERATOR)
    text = json.dumps(after)
    digits = phone[-8:]
    assert email not in text and digits not in text and "no prende" not in text
    assert after["dialogue_events"] == [] and after["identities"] == []
    assert privacy.find_contact(phone) is None
    # The trail outlives the erasure: each request, by whom, about this contact, and nothing of them.
    trail = audit.entries(since_start(), contact_id=contact_id)
    assert [(e["actor"], e["action"]) for e in trail] == [
        (OPERATOR, "contacts.export"), (OPERATOR, "contacts.erase"), (OPERATOR, "contacts.export")]
    assert trail[1]["detail"]["tickets"] == 1 and after["audit"][:2] == trail[:2]
    assert email not in json.dumps(trail) and digits not in json.dumps(trail)


def test_export_holds_every_message_sent_and_received_on_every_channel(database_url):
    """One person on WhatsApp, Telegram (the same verified phone) and the web chat (joined with a
    link code): every message both ways, with its time, channel, direction, author, text and
    status; the link codes they used, and the one still usable without its value."""
    phone = "+52155" + str(uuid.uuid4().int)[:8]
    arrivals = [
        Inbound("whatsapp", phone, "hola por whatsapp", verified_phone=phone, verified_by="twilio_from"),
        Inbound("telegram", str(uuid.uuid4().int)[:9], "hola por telegram", verified_phone=phone,
                verified_by="telegram_contact"),
        Inbound("webchat", f"s-{uuid.uuid4().hex}", "hola por la web"),
    ]
    wrote: list[tuple[str, str, str]] = []
    code = ""
    for inbound in arrivals:
        if inbound.channel == "webchat":  # joined to the contact the first two made
            code = linking.issue_code(conversations.resolve(arrivals[0]).conversation_id)
            assert linking.redeem(code, "webchat", inbound.address).outcome == "linked"
        party = conversations.resolve(inbound)
        conversations.store_inbound(party, inbound, inbound.text)
        answer = f"respuesta en {inbound.channel}"
        author = "agent" if inbound.channel == "webchat" else "bot"
        conversations.store_outbound(party.conversation_id, inbound.channel, Outbound(answer), author=author)
        wrote += [(inbound.channel, "in", inbound.text), (inbound.channel, "out", answer)]
    contact_id = privacy.find_contact(phone)
    live = linking.issue_code(party.conversation_id)

    exported = privacy.export(contact_id, actor=OPERATOR)
    messages = exported["messages"]
    assert [(m["channel"], m["direction"], m["text"]) for m in messages] == wrote
    assert [m["author"] for m in messages] == ["customer", "bot"] * 2 + ["customer", "agent"]
    assert all(m["created_at"] and m["delivery_status"] in ("received", "pending") for m in messages)
    with session_scope() as session:
        stored = session.query(Message).filter(Message.conversation_id == party.conversation_id).count()
    assert len(messages) == stored
    assert {i["channel"] for i in exported["identities"]} == {"whatsapp", "telegram", "webchat"}
    assert [c["code"] for c in exported["link_codes"]] == [code, None] and live not in json.dumps(exported)
    assert exported["link_codes"][0]["used_at"] and exported["link_attempts"][0]["success"] is True


def test_rectify_sets_a_verified_email_and_records_the_operator(database_url):
    phone, email, _ = make_person(database_url)
    contact_id = privacy.find_contact(phone)
    new_email = f"corregido{uuid.uuid4().hex[:6]}@example.com"
    done = privacy.rectify(contact_id, name="  Ana Corregida ", email=new_email.upper(), actor=OPERATOR)
    assert done == {"rectified_contact": contact_id, "fields": ["name", "email"], "email_verified_by": OPERATOR}
    with session_scope() as session:
        contact = session.get(Contact, contact_id)
        assert (contact.name, contact.email, contact.email_verified_by) == ("Ana Corregida", new_email, OPERATOR)
    assert privacy.find_contact(new_email) == contact_id  # a verified e-mail now finds them

    other_phone, other_email, _ = make_person(database_url)
    privacy.rectify(privacy.find_contact(other_phone), email=other_email, actor=OPERATOR)
    with pytest.raises(privacy.EmailTaken):
        privacy.rectify(contact_id, email=other_email, actor=OPERATOR)  # two people are never merged here
    with pytest.raises(ValueError):
        privacy.rectify(contact_id, email="no es un correo", actor=OPERATOR)
    with pytest.raises(ValueError):
        privacy.rectify(contact_id, actor=OPERATOR)
    privacy.rectify(contact_id, email="", actor=OPERATOR)
    with session_scope() as session:
        assert session.get(Contact, contact_id).email is None and session.get(Contact, contact_id).email_verified_by is None
    trail = audit.entries(since_start(), contact_id=contact_id, who=OPERATOR)
    assert [(e["action"], e["detail"]) for e in trail] == [
        ("contacts.rectify", {"fields": ["name", "email"]}), ("contacts.rectify", {"fields": ["email"]})]


def test_rectify_from_the_command_line(database_url, capsys, monkeypatch):
    monkeypatch.setenv("SUDO_USER", "maria")
    phone, _, _ = make_person(database_url)
    new_email = f"cli{uuid.uuid4().hex[:6]}@example.com"
    assert cli.main(["contacts", "rectify", phone, "--email", new_email, "--name", "María Pérez"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["email_verified_by"] == "operator:maria" and printed["fields"] == ["name", "email"]
    assert cli.main(["contacts", "rectify", phone]) == 2
    assert "nothing to rectify" in capsys.readouterr().err


def test_command_line_export_and_erase(database_url):
    phone, email, _ = make_person(database_url)
    run = lambda *args: subprocess.run([sys.executable, "-m", "ops", "contacts", *args], cwd=ROOT,
                                       capture_output=True, text=True, check=True)
    exported = json.loads(run("export", phone).stdout)
    assert exported["contact"]["phone"].endswith(phone[-8:])
    assert exported["tickets"][0]["contact_email"] == email
    erased = json.loads(run("erase", phone).stdout)
    assert erased["messages"] == 1
    missing = subprocess.run([sys.executable, "-m", "ops", "contacts", "export", phone], cwd=ROOT, capture_output=True, text=True)
    assert missing.returncode == 1 and "no contact" in missing.stderr


def test_export_holds_each_session_and_hand_off_episode(tmp_path, monkeypatch) -> None:
    """The care cycles (bot/store/cycles.py): every hand-off of the person with its times and rating;
    erasure keeps them (times and counts, no words)."""
    from tests.helpers import temporary_database
    from tests.helpers_kpis import Script, local

    with temporary_database("sqlite", tmp_path) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        s = Script()
        s.says("ana", "telegram", "asesor", local(1, 10))
        s.hand_off("ana", local(1, 10, 0, 1))
        s.claim("ana", local(1, 10, 2))
        s.resolve("ana", local(1, 10, 9))
        s.rates("ana", 4, local(1, 10, 10))
        with session_scope() as session:
            contact_id = session.execute(select(Contact.id).join(Conversation).where(
                Conversation.id == s.people["ana"].conversation_id)).scalar_one()
        cycles = privacy.export(contact_id, actor=OPERATOR)["care_cycles"]
        assert [(x["channel"], x["messages"], x["handoffs"]) for x in cycles["sessions"]] == [("telegram", 2, 1)]
        (episode,) = cycles["handoffs"]
        assert (episode["outcome"], episode["csat"], episode["requested_at"]) == ("resolved", 4, "2026-12-01T16:00:01+00:00")
def test_order_notices_and_consent_are_exported_then_unlinked_on_erase(database_url):
    from bot.db import utcnow
    from bot.store import notices as notice_store
    from bot.store.notices import OrderEvent, Owner

    phone, email, conversation_id = make_person(database_url)
    contact_id = privacy.find_contact(phone)
    event = OrderEvent(f"ev-{uuid.uuid4().hex}", "PED-10235", "delayed")
    [notice_id] = notice_store.record_event(event, Owner(1, phone=phone), "api", lambda owner: "America/Mexico_City",
                                            lambda zone: utcnow()).notices
    notice_store.record_choice(notice_id, contact_id, "wait")
    notice_store.set_consent(contact_id, False, "whatsapp")
    exported = privacy.export(contact_id)
    assert [(n["order_id"], n["event"], n["choice"]) for n in exported["notices"]] == [("PED-10235", "delayed", "wait")]
    assert [(c["opted_in"], c["channel"]) for c in exported["notice_consents"]] == [(False, "whatsapp")]

    counts = privacy.erase(contact_id)
    assert (counts["notices"], counts["notice_consents"]) == (1, 1)
    after = privacy.export(contact_id)
    assert after["notices"] == [] and after["notice_consents"] == []  # the counts stay, not whose they were
    notice_store.close(notice_id)  # its timer: no server sharing this database is to run it
