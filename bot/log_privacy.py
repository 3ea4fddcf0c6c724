"""Phone numbers and e-mail addresses never reach a log line, whatever the caller passed.

Keeping personal data out of logs by discipline fails the first time someone logs an exception
that quotes a payload. `install()` wraps the process's log record factory, so every record is
masked when it is made: before any handler, filter or formatter sees it, for every logger
(ours, Rasa's, Sanic's, bolt's). The rendered message replaces the format string and its
arguments; the exception text is masked when it is rendered.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Callable

MASK_PHONE = "[phone]"
MASK_EMAIL = "[email]"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Ten or more digits in one run, allowing single spaces, dots, dashes and brackets between them
# (+52 1 55 1234 5678, (55) 1234-5678, 5215512345678, whatsapp:+5215512345678). Dates (8 digits),
# times, order and ticket numbers (4-6 digits) stay readable.
_PHONE = re.compile(r"(?<![\w])(?!\d{4}-\d{2}-\d{2})\+?\(?\d(?:[\s.()-]{0,2}\d){9,14}(?![\w])")


def mask(text: str) -> str:
    """The text with every e-mail address and phone-like number replaced by a placeholder."""
    return _PHONE.sub(MASK_PHONE, _EMAIL.sub(MASK_EMAIL, text))


class _MaskedRecord(logging.LogRecord):
    """A record whose exception text is masked too (logging renders it lazily, into exc_text)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "exc_text" and isinstance(value, str):
            value = mask(value)
        super().__setattr__(name, value)


def _masked(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # a caller's bad format string: keep what can be shown, masked
        message = f"{record.msg!r} {record.args!r}"
    record.msg, record.args = mask(message), ()
    return record


def install() -> None:
    """Masks every log record of this process from now on; calling it twice changes nothing."""
    current = logging.getLogRecordFactory()
    if getattr(current, "_unisono_masks", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        if type(record) is logging.LogRecord:
            record.__class__ = _MaskedRecord
        return _masked(record)

    marked: Callable[..., logging.LogRecord] = factory
    setattr(marked, "_unisono_masks", True)
    logging.setLogRecordFactory(marked)
