"""Language detection from a person's own words."""
from __future__ import annotations

import pytest

from bot.language import detect


@pytest.mark.parametrize(
    "text, expected",
    [
        ("hola buenas tardes", "es"),
        ("donde esta mi pedido", "es"),
        ("cual es el status de mi order", "es"),  # code-switching, Spanish frame
        ("tienen stock del toner?", "es"),
        ("¿y la factura?", "es"),
        ("hello there", "en"),
        ("where is my order?", "en"),
        ("I want to talk to a person", "en"),
        ("thanks!", "en"),
    ],
)
def test_detects_the_language(text, expected):
    assert detect(text) == expected


@pytest.mark.parametrize("text", ["PED-10234", "ok", "👍", "", None, "/affirm", "no", "5"])
def test_no_evidence_keeps_the_conversation_language(text):
    assert detect(text) is None
