"""bot/messages.py: what a reply carries through the store, and Rasa's utterances as replies."""
from __future__ import annotations

from bot.messages import Button, NoticeFields, Outbound


def test_a_notice_keeps_its_fields_through_the_store() -> None:
    notice = NoticeFields("PED-10235", "con retraso: mal clima", "sábado 12 de diciembre")
    outbound = Outbound("⚠️ Aviso", buttons=(Button("Esperar", "/notice_choice"),), notice=notice)
    stored = outbound.to_json()
    assert stored["notice"] == {"order_id": "PED-10235", "change": "con retraso: mal clima", "date": "sábado 12 de diciembre"}
    assert Outbound.from_json(stored) == outbound
    assert Outbound.from_json({"text": "hola"}).notice is None
    assert Outbound.from_json({"text": "hola", "notice": {"change": "no order"}}).notice is None


def test_an_utterances_custom_part_rejoins_its_text() -> None:
    """Rasa's output channels hand `custom` over as a message of its own, after the text."""
    collected = [
        {"recipient_id": "c-1", "text": "⚠️ Aviso", "buttons": [{"title": "Esperar", "payload": "/notice_choice"}]},
        {"recipient_id": "c-1", "custom": {"notice": {"order_id": "PED-10235", "change": "con retraso", "date": "-"}}},
        {"recipient_id": "c-1", "text": "¿Algo más?"},
    ]
    first, second = Outbound.all_from_rasa(collected)
    assert first.text == "⚠️ Aviso" and first.buttons == (Button("Esperar", "/notice_choice"),)
    assert first.notice == NoticeFields("PED-10235", "con retraso", "-")
    assert second == Outbound("¿Algo más?")
    assert Outbound.all_from_rasa([{"custom": {"items": ["a"]}}]) == [Outbound(items=("a",))]  # nothing to join
