"""UnisonoTrackerStore: Rasa's dialogue state kept in our database, SQLite or PostgreSQL."""
from __future__ import annotations

from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.config import ROOT
from bot.tracker_store import UnisonoTrackerStore
from tests.helpers import temporary_database


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_a_saved_tracker_comes_back_and_only_new_events_are_added(kind, domain, tmp_path: Path, monkeypatch) -> None:
    with temporary_database(kind, tmp_path) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        store = UnisonoTrackerStore(domain)
        try:
            tracker = DialogueStateTracker.from_events("c-test", [
                SessionStarted(), ActionExecuted("action_listen"),
                UserUttered("hola", {"name": "greet", "confidence": 0.9}),
            ], domain.slots)
            await store.save(tracker)
            tracker.update(SlotSet("language", "en"))
            await store.save(tracker)  # the second save adds the one new event
            again = await store.retrieve("c-test")
            assert again is not None
            assert [e.as_dict()["event"] for e in again.events] == [e.as_dict()["event"] for e in tracker.events]
            assert again.get_slot("language") == "en"
            assert again.latest_message.text == "hola"
            with store.session_scope() as session:
                assert session.query(store.SQLEvent).filter_by(sender_id="c-test").count() == len(tracker.events)
            assert await store.retrieve("c-nobody") is None
        finally:
            store.engine.dispose()
