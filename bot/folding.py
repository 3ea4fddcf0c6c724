"""Accent and case folding: what "the same word" means when comparing what people type.

"Mérida", "MERIDA" and "merida" are one branch to a customer, "envío" and "envio" one word. Every
comparison of typed text (identifiers, branch and product names, button titles, language cues,
ticket categories) goes through `fold`, so they all agree on it.
"""
from __future__ import annotations

import functools
import unicodedata


@functools.lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    """One character folded to one character: "É" -> "e", "ｐ" -> "p"; "ﬁ" stays (it would be two)."""
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    if len(base) == 1:
        low = base.lower()
        if len(low) == 1:
            return low
    low = ch.lower()
    return low if len(low) == 1 else ch


def fold(text: str | None) -> str:
    """Lowercase, without accents or compatibility forms, one character for one.

    Same length as `text`, so a span found in the folded copy is the same span of the original
    (the entity extractors rely on it). None folds to "".
    """
    if not text:
        return ""
    if text.isascii():
        return text.lower()
    return "".join(_fold_char(ch) for ch in text)
