"""Export everything about a person; erase it everywhere, Rasa's tracker included."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from actions.backend.base import NewTicket
from actions.backend.sql import SqlBackend
from bot import conversations
from bot.config import ROOT
from bot.messages import Inbound
from bot.tracker_store import UnisonoTrackerStore
from ops import privacy


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


def test_export_then_erase_leaves_nothing_personal(database_url):
    phone, email, conversation_id = make_person(database_url)
    contact_id = privacy.find_contact(phone)
    exported = privacy.export(contact_id)
    dumped = json.dumps(exported)
    assert email in dumped and "no prende" in dumped and exported["dialogue_events"] >= 2
    assert exported["identities"][0]["channel"] == "whatsapp"

    counts = privacy.erase(contact_id)
    assert counts["messages"] == 1 and counts["tickets"] == 1 and counts["dialogue_events"] >= 2
    after = json.dumps(privacy.export(contact_id))
    digits = phone[-8:]
    assert email not in after and digits not in after and "no prende" not in after
    assert privacy.export(contact_id)["dialogue_events"] == 0
    assert privacy.find_contact(phone) is None


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
