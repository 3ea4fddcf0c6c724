"""Scripted care cycles with a controlled clock, written through the store functions production
uses (accept, add_reply, the outbox's mark_sent, handoff.request, the desk's claim/finish/CSAT).

`golden()` writes the KPI golden set of issue 18 (tests/bot/test_kpis.py asserts every figure of
it; docs/kpis.md explains them). Times are Mexico City's (UTC-6, no summer time), the service's
default calendar: Monday to Friday 9:00-19:00, Saturday 9:00-14:00.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from bot import conversations, handoff
from bot.db import session_scope
from bot.messages import Inbound, Outbound
from bot.outbox import Pending, mark_sent
from bot.store import desk

MX = ZoneInfo("America/Mexico_City")
CSAT_WINDOW = dt.timedelta(hours=24)


def local(day: int, hour: int, minute: int = 0, second: int = 0, month: int = 12) -> dt.datetime:
    """A Mexico City time in December 2026 (the 1st is a Tuesday)."""
    return dt.datetime(2026, month, day, hour, minute, second, tzinfo=MX)


@dataclass
class Person:
    channel: str
    address: str
    conversation_id: str = ""
    last_message: int = 0


@dataclass
class Script:
    """One person's or many people's care cycles, each step at an explicit time."""

    people: dict[str, Person] = field(default_factory=dict)

    def person(self, name: str, channel: str) -> Person:
        if name not in self.people:
            self.people[name] = Person(channel, f"{name}-{uuid.uuid4().hex[:8]}")
        return self.people[name]

    def says(self, name: str, channel: str, text: str, at: dt.datetime) -> int:
        who = self.person(name, channel)
        stored = conversations.accept(Inbound(channel=channel, address=who.address, text=text), text, at=at)
        assert stored is not None
        party, message_id, _job = stored
        who.conversation_id, who.last_message = party.conversation_id, message_id
        return message_id

    def _sent(self, who: Person, author: str, text: str, at: dt.datetime, response: str | None = None,
              reply_to: int | None = None) -> int:
        outbound = Outbound(text, response=response)
        with session_scope() as session:
            message_id, _job = conversations.add_reply(session, who.conversation_id, who.channel, outbound, author,
                                                       reply_to=reply_to, at=at)
        mark_sent(Pending(message_id, who.channel, who.address, outbound, 0, conversation_id=who.conversation_id,
                          author=author), f"p-{message_id}", 1, at=at)
        return message_id

    def bot(self, name: str, at: dt.datetime, response: str = "utter_answer", text: str = "respuesta") -> int:
        """The bot's reply to the person's last message, sent at `at`."""
        who = self.people[name]
        return self._sent(who, "bot", text, at, response, reply_to=who.last_message)

    def agent(self, name: str, at: dt.datetime, text: str = "hola, soy tu asesor") -> int:
        return self._sent(self.people[name], "agent", text, at)

    def hand_off(self, name: str, at: dt.datetime) -> None:
        who = self.people[name]
        assert handoff.request(who.conversation_id, "customer_request", channel=who.channel, at=at)

    def claim(self, name: str, at: dt.datetime, agent: str = "U-AGENT") -> None:
        assert desk.claim(self.people[name].conversation_id, agent, at=at)

    def resolve(self, name: str, at: dt.datetime, agent: str = "U-AGENT") -> None:
        conversation_id = self.people[name].conversation_id
        assert desk.finish(conversation_id, "closed", agent, at=at)
        desk.csat_asked(conversation_id, at=at)

    def return_to_bot(self, name: str, at: dt.datetime, agent: str = "U-AGENT") -> None:
        assert desk.finish(self.people[name].conversation_id, "bot", agent, at=at)

    def rates(self, name: str, score: int, at: dt.datetime) -> None:
        self.says(name, self.people[name].channel, str(score), at)
        stored, _agent = desk.record_csat(self.people[name].conversation_id, score, CSAT_WINDOW, at=at)
        assert stored

    def reopens(self, name: str) -> None:
        conversations.reopen(self.people[name].conversation_id)


def _contained(s: Script) -> None:
    """Sessions the assistant handled alone, on every channel (one before the period)."""
    s.says("caro", "webchat", "horario?", local(30, 10, month=11))  # Monday 30 November: outside the period
    s.bot("caro", local(30, 10, 0, 5, month=11))
    s.says("ana", "whatsapp", "hola, ¿dónde está mi pedido PED-10234?", local(1, 10))
    s.bot("ana", local(1, 10, 0, 2))
    s.says("ana", "whatsapp", "llámame al 55 1234 5678 o ana@example.com", local(1, 10, 1))
    s.bot("ana", local(1, 10, 1, 1), response="utter_fallback")
    s.says("beto", "telegram", "asdfgh", local(1, 11))
    s.bot("beto", local(1, 11, 0, 3), response="utter_fallback")
    s.says("beto", "telegram", "¿tienen tóner 58A?", local(1, 11, 0, 30))
    s.bot("beto", local(1, 11, 0, 31))
    s.says("caro", "webchat", "asdfgh", local(1, 12))
    s.bot("caro", local(1, 12, 0, 1), response="utter_out_of_scope")


def _resolved_with_csat_and_returned(s: Script) -> None:
    """Dora: claimed after 3 minutes, resolved after 20, CSAT 5. Eli: returned, no agent reply."""
    s.says("dora", "whatsapp", "quiero hablar con un asesor", local(1, 15))
    s.hand_off("dora", local(1, 15, 0, 1))
    s.bot("dora", local(1, 15, 0, 2), response="utter_handoff")
    s.claim("dora", local(1, 15, 3, 1))
    s.agent("dora", local(1, 15, 4, 1))
    s.says("dora", "whatsapp", "mi impresora llegó rota", local(1, 15, 5))
    s.resolve("dora", local(1, 15, 20, 1))
    s.rates("dora", 5, local(1, 15, 21))
    s.says("eli", "telegram", "quiero un humano", local(1, 16))
    s.hand_off("eli", local(1, 16, 0, 1))
    s.bot("eli", local(1, 16, 0, 2), response="utter_handoff")
    s.return_to_bot("eli", local(1, 16, 30, 1))


def _reopened(s: Script) -> None:
    """Fer: resolved, writes again (reopened, no rating), a second hand-off in the same session."""
    s.says("fer", "webchat", "asesor", local(1, 13))
    s.hand_off("fer", local(1, 13, 0, 1))
    s.bot("fer", local(1, 13, 0, 1), response="utter_handoff")
    s.claim("fer", local(1, 13, 0, 31))
    s.agent("fer", local(1, 13, 1, 1))
    s.resolve("fer", local(1, 13, 5, 1))
    s.says("fer", "webchat", "una cosa más", local(1, 13, 10))
    s.reopens("fer")
    s.bot("fer", local(1, 13, 10, 2))
    s.says("fer", "webchat", "quiero un asesor otra vez", local(1, 13, 11))
    s.hand_off("fer", local(1, 13, 11, 1))
    s.claim("fer", local(1, 13, 12, 1))
    s.agent("fer", local(1, 13, 13, 1))
    s.resolve("fer", local(1, 13, 20, 1))
    s.rates("fer", 4, local(1, 13, 21))


def _after_hours_and_next_day(s: Script) -> None:
    """Gabi at 22:00, answered the next morning; Dora's second hand-off the next day (no rating)."""
    s.says("gabi", "whatsapp", "necesito un asesor", local(1, 22))
    s.hand_off("gabi", local(1, 22, 0, 1))
    s.bot("gabi", local(1, 22, 0, 2), response="utter_handoff")
    s.claim("gabi", local(2, 9, 5))
    s.agent("gabi", local(2, 9, 10))
    s.says("gabi", "whatsapp", "gracias, espero", local(2, 9, 12))
    s.resolve("gabi", local(2, 9, 30))
    s.rates("gabi", 3, local(2, 9, 31))
    s.says("dora", "whatsapp", "otra vez necesito ayuda", local(2, 10))
    s.reopens("dora")
    s.hand_off("dora", local(2, 10, 0, 1))
    s.bot("dora", local(2, 10, 0, 1), response="utter_handoff")
    s.claim("dora", local(2, 10, 1, 1))
    s.agent("dora", local(2, 10, 2, 1))
    s.resolve("dora", local(2, 10, 10, 1))


def golden() -> tuple[Script, dt.datetime, dt.datetime]:
    """Writes the golden set into the configured database; (script, since, until) of its period."""
    s = Script()
    _contained(s)
    _resolved_with_csat_and_returned(s)
    _reopened(s)
    _after_hours_and_next_day(s)
    return s, local(1, 0), local(3, 0)
