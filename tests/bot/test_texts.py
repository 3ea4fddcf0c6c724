"""bot/texts.py: the core's customer-facing sentences exist in both languages."""
from __future__ import annotations

import pytest

from bot.language import detect
from bot.texts import TEXTS, text


@pytest.mark.parametrize("key", sorted(TEXTS))
def test_every_sentence_is_written_in_spanish_and_in_english(key: str) -> None:
    spanish, english = TEXTS[key]
    assert spanish.strip() and english.strip() and spanish != english
    assert detect(spanish) != "en" and detect(english) != "es"  # each in its own language


def test_english_only_for_an_english_conversation() -> None:
    assert text("empty", "en") == TEXTS["empty"][1]
    assert text("empty", "es") == text("empty", None) == TEXTS["empty"][0]
