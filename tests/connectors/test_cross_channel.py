"""One customer, one conversation: begin on the web chat, link WhatsApp with a code, and finish the
same form there — over real HTTP, with the real Twilio library talking to a fake Twilio."""
from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.connectors.fake_providers import FakeTwilio
from tests.connectors.support import BUSINESS_NUMBER, PUBLIC_URL, TWILIO_SID, TWILIO_TOKEN, Stack
from tests.connectors.test_whatsapp import ANA, post, reply_containing, twilio_params

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def stack(make_stack, fake_twilio: FakeTwilio) -> Stack:
    return make_stack(
        {
            "PUBLIC_URL": PUBLIC_URL,
            "TWILIO_ACCOUNT_SID": TWILIO_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "TWILIO_WHATSAPP_NUMBER": BUSINESS_NUMBER,
            "TWILIO_API_BASE_URL": fake_twilio.url,
        },
        name="cross-channel",
    )


def web_say(stack: Stack, token: str, text: str) -> str:
    response = httpx.post(stack.url("/webhooks/webchat/webhook"), json={"text": text, "client_id": uuid.uuid4().hex},
                          headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert response.status_code == 200, response.text
    return "\n".join(m["text"] for m in response.json()["replies"])


def test_form_begun_on_the_web_chat_is_finished_on_whatsapp(stack: Stack, fake_twilio: FakeTwilio) -> None:
    token = httpx.post(stack.url("/webhooks/webchat/session"), json={}, timeout=30).json()["token"]
    assert "número de pedido" in web_say(stack, token, "hola, quiero saber dónde está mi pedido")
    code = re.search(r"LINK-[A-Z0-9]{8}", web_say(stack, token, "quiero unir mi whatsapp a este chat")).group(0)

    assert post(stack, twilio_params(ANA, code)).status_code == 200
    reply_containing(fake_twilio, ANA, "unimos este canal")
    assert post(stack, twilio_params(ANA, "es el PED-10234")).status_code == 200
    answer = reply_containing(fake_twilio, ANA, "PED-10234")
    assert "Estafeta" in answer  # the form went on; WhatsApp's verified phone proves ownership

    history = httpx.get(stack.url("/webhooks/webchat/history"), headers={"Authorization": f"Bearer {token}"}, timeout=30)
    texts = [m["text"] for m in history.json()["messages"]]
    assert "es el PED-10234" in texts  # one conversation: the web chat shows what was said on WhatsApp
    assert any("Estafeta" in t for t in texts)
