"""The log mask: phones and e-mails leave every record masked, whoever built it and however."""
from __future__ import annotations

import io
import logging
from typing import Iterator

import pytest

from bot import log_privacy

PHONES = ["+5215512345678", "+52 1 55 1234 5678", "(55) 1234-5678", "whatsapp:+5215512345678", "5512345678"]


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    factory = logging.getLogRecordFactory()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("tests.log_privacy")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    log_privacy.install()
    try:
        yield stream
    finally:
        logging.setLogRecordFactory(factory)
        logger.removeHandler(handler)


@pytest.mark.parametrize("phone", PHONES)
def test_a_phone_and_an_email_in_the_arguments_leave_masked(captured: io.StringIO, phone: str) -> None:
    logging.getLogger("tests.log_privacy").info("from %s (%s): %d items", phone, "ana.lopez@example.com", 3)
    line = captured.getvalue()
    assert line.endswith("[phone] ([email]): 3 items\n")
    assert not any(ch.isdigit() for ch in line.removesuffix("3 items\n"))


def test_a_phone_in_an_exception_leaves_masked(captured: io.StringIO) -> None:
    try:
        raise ValueError("no route to whatsapp:+5215512345678 for ana.lopez@example.com")
    except ValueError:
        logging.getLogger("tests.log_privacy").exception("send failed")
    text = captured.getvalue()
    assert "send failed" in text and "ValueError" in text
    assert "5512345678" not in text and "ana.lopez" not in text
    assert "[phone]" in text and "[email]" in text


def test_dates_times_and_our_ids_stay_readable(captured: io.StringIO) -> None:
    logging.getLogger("tests.log_privacy").info("PED-10234 TCK-2041 at 2026-12-07 14:20:11 took 169 s")
    assert captured.getvalue() == "PED-10234 TCK-2041 at 2026-12-07 14:20:11 took 169 s\n"


def test_a_bad_format_string_is_still_logged_masked(captured: io.StringIO) -> None:
    logging.getLogger("tests.log_privacy").info("%d items for %s", "many", "+5215512345678")
    text = captured.getvalue()
    assert "items" in text and "5512345678" not in text


def test_installing_twice_wraps_once() -> None:
    factory = logging.getLogRecordFactory()
    try:
        log_privacy.install()
        once = logging.getLogRecordFactory()
        log_privacy.install()
        assert logging.getLogRecordFactory() is once
    finally:
        logging.setLogRecordFactory(factory)
