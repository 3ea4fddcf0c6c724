"""A complaint's category, read from the customer's own words: it picks the team and the priority."""
from __future__ import annotations

import pytest

from actions.backend.sql import AREA_BY_CATEGORY, ticket_priority
from actions.tickets import categorise


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
