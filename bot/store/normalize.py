"""Canonical forms of the identifiers people are matched on (phones, emails).

Shared by the conversation store and the demo backend so that "the same number" means the same
thing everywhere.
"""
from __future__ import annotations

import re
from typing import Optional

_MX = "52"
# ASCII digits only (reliability fix, tests/reliability/test_bad_input.py): \D keeps other scripts'
# digits ("٥٥"), which made "phones" no provider sends and no lookup matches.
_NON_DIGITS = re.compile(r"[^0-9]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def canonical_phone(raw: str) -> str:
    """E.164 with Mexican mobiles folded to +52 + 10 digits.

    Mexico dropped the mobile "1" in 2019, but WhatsApp still sends +521XXXXXXXXXX while people
    type +52XXXXXXXXXX: both are one number. Telegram omits the "+"; a bare 10-digit number is
    taken as Mexican (the wholesaler's home market). Raises ValueError if it is not a phone.
    """
    text = (raw or "").strip()
    if text.lower().startswith("whatsapp:"):
        text = text[len("whatsapp:"):]
    digits = _NON_DIGITS.sub("", text)
    if text.startswith("00"):
        digits = digits[2:]
    if len(digits) == 10 and not text.startswith("+"):
        digits = _MX + digits
    if len(digits) == 13 and digits.startswith(_MX + "1"):
        digits = _MX + digits[3:]
    if not 8 <= len(digits) <= 15 or digits.startswith("0"):
        raise ValueError(f"not a phone number: {raw!r}")
    return "+" + digits


def phone_variants(raw: str) -> list[str]:
    """Every stored spelling of the number `raw` may match (canonical first); [] if not a phone."""
    try:
        canonical = canonical_phone(raw)
    except ValueError:
        return []
    variants = [canonical]
    if canonical.startswith("+" + _MX) and len(canonical) == 13:
        variants.append("+" + _MX + "1" + canonical[3:])
    return variants


def normalize_email(raw: str) -> str:
    """Trimmed and lowercased; raises ValueError if it does not look like an address."""
    email = (raw or "").strip().lower()
    if not _EMAIL.match(email):
        raise ValueError(f"not an email address: {raw!r}")
    return email


def same_phone(a: Optional[str], b: Optional[str]) -> bool:
    """True when both are phones and denote the same number."""
    if not a or not b:
        return False
    try:
        return canonical_phone(a) == canonical_phone(b)
    except ValueError:
        return False
