"""bot/store/cycles.py: sessions split where the customer was silent over an hour (never while a
person has the conversation), hand-off episodes that never overwrite each other, fallbacks counted
once per message, and records that follow a contact merged into another."""
from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import handoff, linking
from bot.db import session_scope
from bot.store.cycles import CareSession, Handoff
from tests.helpers import temporary_database
from tests.helpers_kpis import Script, local


@pytest.fixture(scope="module", autouse=True)
def _db(tmp_path_factory: pytest.TempPathFactory):
    """A database of this module's own: the hand-offs left open here are nobody else's queue."""
    with pytest.MonkeyPatch.context() as patch, temporary_database("sqlite", tmp_path_factory.mktemp("cycles")) as url:
        patch.setenv("DATABASE_URL", url)
        yield url


def sessions_of(conversation_id: str) -> list[CareSession]:
    with session_scope() as session:
        return list(session.execute(select(CareSession).where(CareSession.conversation_id == conversation_id)
                                    .order_by(CareSession.seq)).scalars())


def handoffs_of(conversation_id: str) -> list[Handoff]:
    with session_scope() as session:
        return list(session.execute(select(Handoff).where(Handoff.conversation_id == conversation_id)
                                    .order_by(Handoff.id)).scalars())


def test_a_session_ends_after_an_hour_of_silence_and_takes_its_first_channel() -> None:
    s = Script()
    s.says("ana", "webchat", "hola", local(1, 10))
    s.bot("ana", local(1, 10, 0, 4))
    s.says("ana", "webchat", "¿y envíos?", local(1, 11))  # exactly 60 minutes later: same session
    s.bot("ana", local(1, 11, 0, 1))  # not its first response
    s.says("ana", "webchat", "¿siguen ahí?", local(1, 12, 0, 1))  # 60 minutes and a second: a new one
    first, second = sessions_of(s.people["ana"].conversation_id)
    assert (first.seq, first.messages, first.reply_s, first.channel) == (1, 2, 4.0, "webchat")
    assert first.started_at == local(1, 10) and first.last_message_at == local(1, 11)
    assert (second.seq, second.messages, second.first_reply_at, second.day.isoformat()) == (2, 1, None, "2026-12-01")


def test_while_a_person_has_the_conversation_the_session_does_not_expire() -> None:
    s = Script()
    s.says("gabi", "whatsapp", "necesito un asesor", local(1, 22))
    s.hand_off("gabi", local(1, 22, 0, 1))
    s.says("gabi", "whatsapp", "¿hola?", local(2, 8))  # waiting all night
    s.claim("gabi", local(2, 9, 5))
    s.says("gabi", "whatsapp", "gracias", local(2, 11))  # two hours later, still with the agent
    s.return_to_bot("gabi", local(2, 11, 30))
    s.says("gabi", "whatsapp", "otra cosa", local(2, 13))  # back with the bot: the gap counts again
    first, second = sessions_of(s.people["gabi"].conversation_id)
    assert (first.messages, first.handoffs, second.messages, second.handoffs) == (3, 1, 1, 0)
    (episode,) = handoffs_of(s.people["gabi"].conversation_id)
    assert (episode.outcome, episode.ended_at, episode.resolution_s, episode.first_reply_at) == (
        "returned", local(2, 11, 30), None, None)


def test_a_hand_off_asked_for_twice_is_one_episode_and_a_later_one_is_another() -> None:
    s = Script()
    s.says("dora", "telegram", "asesor", local(1, 15))
    s.hand_off("dora", local(1, 15, 0, 1))
    assert not handoff.request(s.people["dora"].conversation_id, "again", at=local(1, 15, 1))
    s.claim("dora", local(1, 15, 2))
    s.agent("dora", local(1, 15, 3))
    s.agent("dora", local(1, 15, 4))  # not the first reply
    s.resolve("dora", local(1, 15, 10))
    s.rates("dora", 2, local(1, 15, 11))
    s.says("dora", "telegram", "otra vez", local(2, 15))
    s.reopens("dora")
    s.hand_off("dora", local(2, 15, 0, 1))
    first, second = handoffs_of(s.people["dora"].conversation_id)
    assert (first.reply_s, first.resolution_s, first.csat, first.csat_asked_at) == (179.0, 599.0, 2, local(1, 15, 10))
    assert (second.requested_at, second.claimed_at, second.outcome, second.csat) == (local(2, 15, 0, 1), None, None, None)


def test_a_message_the_fallback_answered_in_two_parts_counts_once() -> None:
    s = Script()
    s.says("beto", "webchat", "zzzz", local(1, 10))
    s.bot("beto", local(1, 10, 0, 1), response="utter_fallback")
    s.bot("beto", local(1, 10, 0, 1), response="utter_fallback")  # the second part of a split reply
    s.says("beto", "webchat", "¿horario?", local(1, 10, 1))
    s.bot("beto", local(1, 10, 1, 1), response="utter_faq/hours")
    (only,) = sessions_of(s.people["beto"].conversation_id)
    assert (only.messages, only.fallbacks) == (2, 1)


def test_the_records_of_a_contact_merged_into_another_follow_the_conversation() -> None:
    s = Script()
    s.says("web", "webchat", "hola", local(1, 10))
    phone = "+52155" + str(uuid.uuid4().int)[:8]
    s.person("phone", "whatsapp").address = phone
    s.says("phone", "whatsapp", "asesor", local(1, 9))
    s.hand_off("phone", local(1, 9, 0, 1))
    code = linking.issue_code(s.people["web"].conversation_id)
    assert linking.redeem(code, "whatsapp", phone).outcome == "linked"
    kept = s.people["web"].conversation_id
    assert [(r.seq, r.channel, r.handoffs) for r in sessions_of(kept)] == [(1, "webchat", 0), (2, "whatsapp", 1)]
    assert [h.channel for h in handoffs_of(kept)] == ["whatsapp"]
    assert sessions_of(s.people["phone"].conversation_id) == []


def test_of_two_replicas_asking_for_a_person_at_once_one_opens_the_episode(tmp_path: Path, monkeypatch) -> None:
    with temporary_database("postgresql", tmp_path) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        s = Script()
        s.says("eli", "telegram", "humano", local(1, 16))
        conversation_id = s.people["eli"].conversation_id
        results: list[bool] = []
        start = threading.Barrier(4)

        def ask() -> None:
            start.wait()
            results.append(handoff.request(conversation_id, "customer_request", at=local(1, 16, 0, 1)))

        threads = [threading.Thread(target=ask) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [False, False, False, True]
        assert len(handoffs_of(conversation_id)) == 1 and sessions_of(conversation_id)[0].handoffs == 1
