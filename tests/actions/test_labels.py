"""The words actions put into replies: a delay's reason reaches each customer in their language."""
from __future__ import annotations

import pytest

from actions import labels

RAIN = "retraso de la paquetería por lluvias"


@pytest.mark.parametrize("code, note, lang, expected", [
    # Logistics' note is the most specific: quoted to those who read its language.
    ("weather", RAIN, "es", RAIN),
    # Said by its code to everyone else.
    ("weather", RAIN, "en", "bad weather on the carrier's route"),
    ("customs", None, "es", "revisión en aduana"),
    ("customs", None, "en", "a customs inspection"),
    # A note with no code: quoted in its own language, never in the other.
    (None, "the truck broke down", "en", "the truck broke down"),
    (None, RAIN, "en", "an unexpected problem with the shipment"),
    ("other", RAIN, "en", "an unexpected problem with the shipment"),
    (None, None, "es", "un imprevisto con el envío"),
    # A note with no evidence of its language (a place name) is quoted as it is.
    (None, "Querétaro", "en", "Querétaro"),
])
def test_delay_reason(code, note, lang, expected):
    assert labels.delay_reason(code, note, lang) == expected


def test_every_delay_code_but_other_has_words_in_both_languages():
    from actions.backend.tables import DELAY_CODES

    for code in DELAY_CODES:
        if code != "other":
            assert labels.delay_reason(code, None, "es") != labels.delay_reason(code, None, "en")
            assert "imprevisto" not in labels.delay_reason(code, None, "es")
