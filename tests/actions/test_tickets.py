"""A complaint's category, read from the customer's own words: it picks the team and the priority;
the ticket's promise to the customer, a working time."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Iterator
from zoneinfo import ZoneInfo

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import tickets
from actions.backend.sql import AREA_BY_CATEGORY, SqlBackend, ticket_priority
from actions.tickets import categorise
from bot import config, conversations, service
from bot.messages import Inbound
from bot.store import sla as sla_store
from tests.helpers import temporary_database


@pytest.mark.parametrize("text, category", [
    # A broken or faulty product is after-sales' (warranty), however it arrived.
    ("the laptop screen is cracked", "warranty"),
    ("it doesn't turn on", "warranty"),
    ("my laptop won't turn on", "warranty"),
    ("the printer is not working", "warranty"),
    ("my laptop arrived broken", "warranty"),
    ("the charger doesn't work", "warranty"),
    ("me llegó la impresora dañada", "warranty"),
    ("me llegó la impresora con la charola rota", "warranty"),
    ("el equipo no enciende, necesito soporte", "warranty"),
    ("la pantalla llegó estrellada", "warranty"),
    ("el cargador no sirve", "warranty"),
    # Wrong or missing items are about the order, even when they "arrived".
    ("wrong item", "order"),
    ("two items were missing from my delivery", "order"),
    ("they sent a different model", "order"),
    ("llegaron 3 mouse en vez de 5", "order"),
    ("me mandaron el modelo equivocado", "order"),
    # Late is the delivery's.
    ("arrived late", "delivery"),
    ("my order came late", "delivery"),
    ("mi pedido llegó tarde", "delivery"),
    ("el paquete no ha llegado", "delivery"),
    # Money is billing's; a charger is not a charge.
    ("you charged my card twice for the same invoice", "billing"),
    ("i was overcharged", "billing"),
    ("me hicieron un cargo doble", "billing"),
    ("la factura salió con otro precio", "billing"),
    # The buttons' payloads and the category names themselves.
    ("#warranty", "warranty"), ("#other", "other"), ("otro", "other"),
    *[(name, name) for name in ("warranty", "delivery", "billing", "order", "product", "other")],
])
def test_categorise_reads_the_category_in_both_languages(text: str, category: str) -> None:
    assert categorise(text) == category


@pytest.mark.parametrize("text", ["quiero levantar una queja", "I want to file a complaint", "the branch staff"])
def test_no_category_when_the_words_do_not_say_one(text: str) -> None:
    """The form then asks, with buttons."""
    assert categorise(text) is None


def test_a_cracked_screen_reaches_after_sales_not_the_general_team_at_low_priority() -> None:
    """Tried as a new user would, this went to customer service with low priority."""
    category = categorise("the laptop screen is cracked")
    assert AREA_BY_CATEGORY[category] == "after_sales"
    assert ticket_priority(category, "the laptop screen is cracked") == "normal"


# -- the promise a new ticket makes -----------------------------------------------------------------
MEXICO_CITY = ZoneInfo("America/Mexico_City")
MONDAY_0027 = dt.datetime(2026, 12, 7, 0, 27, tzinfo=MEXICO_CITY)  # tried as a new user would


@pytest.fixture(scope="module")
def own_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch, temporary_database("sqlite", tmp_path_factory.mktemp("tickets")) as url:
        patch.setenv("DATABASE_URL", url)
        config.reload()
        yield url
    config.reload()


def said(response: str, language: str, values: dict) -> str:
    """What the customer reads: domain.yml's text for `language` (English is the conditioned
    variant), filled in as Rasa fills it."""
    from rasa.core.nlg.interpolator import interpolate_text

    variants = yaml.safe_load((config.ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"][response]
    for variant in variants:
        english = any(c.get("name") == "language" and c.get("value") == "en" for c in variant.get("condition") or [])
        if english == (language == "en"):
            return str(interpolate_text(variant["text"], values))
    raise KeyError(f"{response} has no {language} text")


@pytest.mark.parametrize("language, promise", [
    ("es", "tendrás respuesta a más tardar el miércoles 9 de diciembre, 13:00 h."),
    ("en", "you'll hear back by Wednesday, December 9, 13:00 h at the latest."),
])
async def test_a_ticket_opened_at_night_promises_a_working_time_and_starts_its_sla_timers(
    own_database: str, monkeypatch: pytest.MonkeyPatch, language: str, promise: str
) -> None:
    inbound = Inbound("telegram", uuid.uuid4().hex, "mi pedido no ha llegado")
    conversation_id = conversations.resolve(inbound).conversation_id
    monkeypatch.setattr(tickets, "get_backend", lambda: SqlBackend(clock=lambda: MONDAY_0027))
    slots = {"language": language, "ticket_category": "order", "email": "cliente@example.com",
             "ticket_description": "quiero cambiar la dirección de entrega"}  # normal: 24 business hours
    dispatcher = CollectingDispatcher()
    tracker = Tracker(conversation_id, slots, {}, [], False, None, {}, "action_listen")

    await tickets.ActionCreateTicket().run(dispatcher, tracker, {})

    [message] = dispatcher.messages
    assert message["response"] == "utter_ticket_created"
    # 24 business hours from Monday 00:27: Monday 9-19, Tuesday 9-19, Wednesday 9-13 (it promised
    # "Tuesday 00:27", a time nobody works).
    assert promise in said("utter_ticket_created", language, message)
    [clock] = sla_store.clocks_of("ticket", [message["ticket_id"]])
    assert (clock.channel, clock.due_at, clock.detail) == (
        "telegram", dt.datetime(2026, 12, 9, 13, 0, tzinfo=MEXICO_CITY), {"area": "logistics", "priority": "normal"})
    assert service.calendar().is_open(clock.due_at - dt.timedelta(seconds=1))
