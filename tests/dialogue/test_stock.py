"""Stock per branch for verified distributors; a polite no for everyone else."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.model

COMPUNET_PHONE = "+528155550101"


def joined(texts: list[str]) -> str:
    return "\n".join(texts)


def test_distributor_asks_for_toner_in_puebla_and_gets_monterrey(chat, verified):
    sender = verified(phone=COMPUNET_PHONE)
    reply = joined(chat.texts(sender, "tienen toner CF258A en puebla?"))
    assert "Puebla" in reply and "Monterrey" in reply and "CF258A" in reply


def test_distributor_without_branch_gets_levels_everywhere_in_english(chat, verified):
    sender = verified(phone=COMPUNET_PHONE)
    reply = joined(chat.texts(sender, "do you have stock of CF258A?"))
    assert "Monterrey: 42 units" in reply


def test_distributor_is_asked_for_the_product_when_missing(chat, verified):
    sender = verified(phone=COMPUNET_PHONE)
    reply = joined(chat.texts(sender, "quiero checar existencias"))
    assert "producto" in reply
    reply = joined(chat.texts(sender, "CF258A"))
    assert "Monterrey" in reply


def test_customer_who_is_not_a_distributor_sees_no_stock(chat, verified):
    sender = verified(phone="+5215512345678")
    reply = joined(chat.texts(sender, "tienen toner CF258A en monterrey?"))
    assert "distribuidores verificados" in reply
    assert "42" not in reply


def test_anonymous_person_sees_no_stock(chat, sender):
    reply = joined(chat.texts(sender, "do you have CF258A in stock?"))
    assert "verified distributors" in reply
