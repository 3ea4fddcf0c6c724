"""Fuzzy product matching: what people type ("tonner hp 58 a") against SKUs, names and aliases.

Plain difflib and token overlap, accent- and case-insensitive: enough for a catalogue of
hundreds of products without a search engine. Model numbers must agree: "toner 85a" is not
the 58A, however similar the strings look.
"""
from __future__ import annotations

import re
from difflib import SequenceMatcher
from typing import Iterable, Sequence

from bot.folding import fold

THRESHOLD = 0.6
_TOKEN_SIMILARITY = 0.8
_SKU_JUNK = re.compile(r"[^A-Z0-9]")
_DIGITS = re.compile(r"\d+")
_WORDS = re.compile(r"[a-z0-9]+")
# Filler that carries no product meaning (Spanish and English).
_STOPWORDS = frozenset(
    "a al algun alguna con de del el en es hay la las lo los me mi para por que quiero "
    "se su tiene tienen un una unos unas y the for of an and i need want do you have any is".split()
)


def sku_key(text: str) -> str:
    """An SKU as people may type it, reduced to compare: ' cf-258a ' -> 'CF258A'."""
    return _SKU_JUNK.sub("", fold(text).upper())


def tokens(text: str) -> list[str]:
    """Meaningful words, with a lone trailing letter glued to its number: '58 a' -> '58a'."""
    words = _WORDS.findall(fold(text))
    merged: list[str] = []
    for word in words:
        if merged and len(word) == 1 and word.isalpha() and merged[-1][-1].isdigit():
            merged[-1] += word
        else:
            merged.append(word)
    return [w for w in merged if w not in _STOPWORDS]


def _token_match(a: str, b: str) -> bool:
    if a == b:
        return True
    if any(c.isdigit() for c in a + b) or min(len(a), len(b)) < 4:
        return False  # model numbers and short words must be exact
    return SequenceMatcher(None, a, b).ratio() >= _TOKEN_SIMILARITY


def _coverage(needles: Sequence[str], haystack: Sequence[str]) -> float:
    if not needles:
        return 0.0
    found = sum(1 for n in needles if any(_token_match(n, h) for h in haystack))
    return found / len(needles)


def _string_score(query_tokens: Sequence[str], query_compact: str, candidate: str) -> float:
    cand_tokens = tokens(candidate)
    if not cand_tokens:
        return 0.0
    query_cov = _coverage(query_tokens, cand_tokens)  # the query is all about this product
    cand_cov = _coverage(cand_tokens, query_tokens)  # the product is all in the query
    score = max(0.75 * query_cov + 0.25 * cand_cov, 0.85 * cand_cov + 0.15 * query_cov)
    ratio = SequenceMatcher(None, query_compact, "".join(cand_tokens)).ratio()
    if ratio >= 0.75:  # typos and odd spacing: "tonnerhp58a" vs "tonerhp58a"
        score = max(score, ratio)
    return score


def _models_agree(query_tokens: Sequence[str], candidates: Iterable[str]) -> bool:
    """Numbers and model codes in the query belong to the product: '58a' fits CF258A, not CF258X."""
    known_tokens = {t for c in candidates for t in tokens(c)}
    known_numbers = {n for t in known_tokens for n in _DIGITS.findall(t)}
    for word in query_tokens:
        if not any(c.isdigit() for c in word):
            continue
        if word.isdigit():
            if not any(n == word or n.endswith(word) for n in known_numbers):
                return False
        elif not any(t == word or t.endswith(word) for t in known_tokens):
            return False
    return True


def score(query: str, sku: str, name: str, aliases: Sequence[str]) -> float:
    """How well `query` names this product, 0..1 (1 = its SKU)."""
    if sku_key(query) and sku_key(query) == sku_key(sku):
        return 1.0
    query_tokens = tokens(query)
    if not query_tokens:
        return 0.0
    compact = "".join(query_tokens)
    candidates = [name, sku, *aliases]
    best = max(_string_score(query_tokens, compact, c) for c in candidates)
    if not _models_agree(query_tokens, candidates):
        best *= 0.5
    return best


def rank(query: str, products: Iterable[tuple[str, str, Sequence[str]]], limit: int) -> list[str]:
    """SKUs of (sku, name, aliases) that match `query`, best first, at most `limit`."""
    scored = []
    for sku, name, aliases in products:
        value = score(query, sku, name, aliases)
        if value >= THRESHOLD:
            scored.append((value, sku))
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    return [sku for _, sku in scored[:limit]]
