"""Replies as plain text for providers without rich messages (WhatsApp, Telegram): rendering,
splitting at the provider's length limit, and redaction of provider error texts.

Providers cap a message's length (WhatsApp 1600, Telegram 4096). A long reply is cut where a
reader would pause (a paragraph, then a sentence, then a space), never inside a word, so every
part still reads well on a phone.
"""
from __future__ import annotations

import re

from bot.messages import Outbound

_PARAGRAPH = ("\n\n",)
_SENTENCE = (". ", "! ", "? ", "… ", ".\n", "!\n", "?\n", "…\n", "\n")
_WORD = (" ", "\t")
_PHONE_LIKE = re.compile(r"\+?\d[\d\s().-]{6,}\d")


def utf16_len(text: str) -> int:
    """Length as providers count it (UTF-16 code units): an emoji may count twice."""
    return len(text.encode("utf-16-le")) // 2


def _prefix_within(text: str, limit: int) -> str:
    """The longest prefix of `text` whose UTF-16 length is at most `limit`."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return text[:index]
    return text


def _break_at(window: str) -> int:
    """Where to end a part cut from `window`: after a paragraph, a sentence, or before a word."""
    floor = len(window) // 3  # a break this early would leave tiny parts; look for a later one
    for separators in (_PARAGRAPH, _SENTENCE):
        end = max((window.rfind(s) + len(s) for s in separators if window.rfind(s) >= 0), default=-1)
        if end > floor:
            return end
    start = max(window.rfind(s) for s in _WORD)
    if start > 0:
        return start
    return len(window)  # one "word" longer than the limit (a URL): nothing better than a hard cut


def split_text(text: str, limit: int) -> list[str]:
    """`text` in parts of at most `limit` UTF-16 units, cut at paragraph/sentence/word ends."""
    if limit < 1:
        raise ValueError("limit must be positive")
    rest = (text or "").strip()
    parts: list[str] = []
    while rest:
        if utf16_len(rest) <= limit:
            parts.append(rest)
            break
        window = _prefix_within(rest, limit)
        cut = _break_at(window)
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if head:
            parts.append(head)
    return parts


def plain_text(outbound: Outbound, numbered_buttons: bool) -> str:
    """The reply as one text: items as bullet lines and, if asked, the options as a numbered list.

    Channels without buttons (WhatsApp) show options as "1. Sí, con un asesor"; the hub maps a
    reply "1" or the option's title back to its payload.
    """
    blocks = [outbound.text.strip()] if outbound.text and outbound.text.strip() else []
    if outbound.items:
        blocks.append("\n".join(f"• {item}" for item in outbound.items))
    if numbered_buttons and outbound.buttons:
        blocks.append("\n".join(f"{n}. {button.title}" for n, button in enumerate(outbound.buttons, 1)))
    return "\n\n".join(blocks)


def redact(text: str) -> str:
    """Phone-like numbers out of a provider's error text, before it is logged or stored."""
    return _PHONE_LIKE.sub("[number]", text or "")
