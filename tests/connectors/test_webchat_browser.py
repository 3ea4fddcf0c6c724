"""The web chat widget end to end: the demo page in Debian's headless Chromium against the real server."""
from __future__ import annotations

import json
import re
from typing import Callable, Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN_KEY = "unisono.webchat.token"
ANSWER = 20000  # ms: the model answers in well under a second, but the first turn warms it up
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

# Counts what the live feed (server-sent events) delivers, so a test can wait until the feed has
# caught up instead of sleeping: the widget's own EventSource, observed, not replaced.
FEED_PROBE = """
(() => {
  const Native = window.EventSource;
  window.__feedIds = [];
  window.EventSource = function (url, options) {
    const source = new Native(url, options);
    source.addEventListener("message", (event) => {
      try { window.__feedIds.push(JSON.parse(event.data).id); } catch (e) { /* not ours */ }
    });
    return source;
  };
  window.EventSource.prototype = Native.prototype;
})();
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def open_demo(browser: Browser, server) -> Iterator[Callable[..., Page]]:
    """Opens the demo page in a fresh browser context (its own localStorage, so its own session)."""
    contexts, errors = [], []

    def opener(locale: str = "es-MX") -> Page:
        context = browser.new_context(locale=locale)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.add_init_script(FEED_PROBE)
        page.goto(server.url("/webhooks/webchat/demo"))
        expect(page.locator("#unisono-chat")).to_be_visible()  # data-open="true" opens it
        return page

    yield opener
    for context in contexts:
        context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


def wait_for_feed(page: Page, server) -> list[int]:
    """Waits until the live feed has delivered every message the server stored; returns their ids."""
    stored = [m["id"] for m in server_history(server, token_of(page))]
    page.wait_for_function("ids => ids.every(id => window.__feedIds.includes(id))", arg=stored, timeout=ANSWER)
    return stored


def chat(page: Page, text: str) -> None:
    page.locator("#unisono-input").fill(text)
    page.locator("#unisono-send").click()


def messages(page: Page, direction: str = ""):
    return page.locator("#unisono-chat .unisono-msg" + (f".unisono-{direction}" if direction else ""))


def rendered_ids(page: Page) -> list[int]:
    return [int(i) for i in messages(page).evaluate_all("nodes => nodes.map(n => n.dataset.id)")]


def token_of(page: Page) -> str | None:
    return page.evaluate(f"localStorage.getItem({json.dumps(TOKEN_KEY)})")


def server_history(server, token: str) -> list[dict]:
    response = httpx.get(
        server.url("/webhooks/webchat/history"), params={"token": token}, timeout=30, trust_env=False
    )
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def test_spanish_greeting(open_demo, server) -> None:
    page = open_demo("es-MX")
    expect(page.locator("#unisono-chat")).to_contain_text("Mayoreo TI")
    expect(page.locator("#unisono-input")).to_have_attribute("placeholder", "Escribe tu mensaje…")
    expect(page.locator("#unisono-send")).to_be_disabled()  # nothing to send yet
    expect(page.locator("#unisono-launcher")).to_have_attribute("aria-expanded", "true")

    def is_send(request) -> bool:
        return request.url.endswith("/webhooks/webchat/webhook") and request.method == "POST"

    with page.expect_request(is_send) as sent:
        chat(page, "hola")
    body = sent.value.post_data_json
    assert body["text"] == "hola"
    assert UUID.match(body["client_id"]), body

    expect(messages(page, "out")).to_contain_text(["asistente virtual"], timeout=ANSWER)
    expect(messages(page, "in").last).to_contain_text("hola")
    expect(messages(page, "in").last).to_have_attribute("data-id", re.compile(r"^\d+$"))
    expect(page.locator("#unisono-input")).to_have_value("")

    # Each reply arrives twice (in the POST answer and on the live feed) and is shown once, in order.
    stored = wait_for_feed(page, server)
    assert rendered_ids(page) == stored


def test_english_greeting_in_a_fresh_context(open_demo) -> None:
    page = open_demo("en-US")
    expect(page.locator("#unisono-input")).to_have_attribute("placeholder", "Type your message…")
    expect(page.locator("#unisono-send")).to_have_attribute("aria-label", "Send message")
    expect(messages(page)).to_have_count(0)  # a new browser is a new conversation
    chat(page, "hello")
    expect(messages(page, "out")).to_contain_text(["virtual assistant"], timeout=ANSWER)
    expect(messages(page, "out")).not_to_contain_text(["asistente virtual"])


def test_complaint_offers_category_buttons(open_demo) -> None:
    page = open_demo()
    chat(page, "quiero levantar una queja")
    billing = page.locator("#unisono-chat .unisono-btn", has_text="Facturación o cobro")
    expect(billing).to_be_visible(timeout=ANSWER)
    expect(page.locator("#unisono-chat .unisono-btn")).to_have_count(4)
    billing.click()
    expect(billing).to_be_disabled()
    expect(messages(page, "in").last).to_contain_text("Facturación o cobro")
    expect(messages(page, "out")).to_contain_text(["Cuéntame qué pasó"], timeout=ANSWER)


def test_reload_shows_the_conversation_from_history(open_demo, server) -> None:
    page = open_demo()
    chat(page, "hola")
    expect(messages(page, "out")).to_contain_text(["asistente virtual"], timeout=ANSWER)
    before = wait_for_feed(page, server)
    assert rendered_ids(page) == before
    token = token_of(page)
    assert token and len(before) >= 2

    page.reload()
    expect(messages(page)).to_have_count(len(before), timeout=ANSWER)
    assert rendered_ids(page) == before
    assert token_of(page) == token
    expect(messages(page, "in").first).to_contain_text("hola")
    expect(messages(page, "out")).to_contain_text(["asistente virtual"])


def _assert_shown_as_text(page: Page, text: str) -> None:
    sent = messages(page, "in").filter(has_text="window.__xss")
    expect(sent).to_have_count(1)
    expect(sent).to_have_attribute("data-id", re.compile(r"^\d+$"))  # the stored copy, not a draft
    assert text in sent.text_content()
    expect(sent.locator(".unisono-text")).to_have_text(text)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("#unisono-chat .unisono-msg b").count() == 0
    assert page.locator("#unisono-chat .unisono-msg script").count() == 0


def test_html_in_a_message_is_shown_as_text(open_demo) -> None:
    page = open_demo()
    attack = "<b>hola</b><script>window.__xss=1</script>"
    chat(page, attack)
    expect(messages(page, "out")).not_to_have_count(0, timeout=ANSWER)
    _assert_shown_as_text(page, attack)
    page.reload()  # rendered again from the server's history
    expect(messages(page, "out")).not_to_have_count(0, timeout=ANSWER)
    _assert_shown_as_text(page, attack)


def test_a_tampered_token_is_replaced(open_demo, server) -> None:
    page = open_demo()
    page.wait_for_function(f"localStorage.getItem({json.dumps(TOKEN_KEY)})")
    value, _, mac = token_of(page).rpartition(".")
    tampered = f"{value[:-1]}{'A' if value[-1] != 'A' else 'B'}.{mac}"
    page.evaluate(f"localStorage.setItem({json.dumps(TOKEN_KEY)}, {json.dumps(tampered)})")

    page.reload()
    expect(page.locator("#unisono-chat")).to_be_visible()
    page.wait_for_function(
        "([key, bad]) => { const t = localStorage.getItem(key); return t && t !== bad; }",
        arg=[TOKEN_KEY, tampered],
        timeout=ANSWER,
    )
    fresh = token_of(page)
    renewed = httpx.post(
        server.url("/webhooks/webchat/session"), json={"token": fresh}, timeout=30, trust_env=False
    )
    assert renewed.status_code == 200  # the widget holds a genuine token again

    chat(page, "hola")
    expect(messages(page, "out")).to_contain_text(["asistente virtual"], timeout=ANSWER)
    expect(page.locator("#unisono-chat .unisono-notice")).to_be_hidden()


def test_a_server_error_is_reported_inline(open_demo) -> None:
    page = open_demo()
    page.route(
        "**/webhooks/webchat/webhook",
        lambda route: route.fulfill(status=500, content_type="application/json", body='{"error": "boom"}'),
    )
    chat(page, "hola")
    notice = page.locator("#unisono-chat .unisono-notice")
    expect(notice).to_be_visible(timeout=ANSWER)
    expect(notice).to_contain_text("No pudimos enviar tu mensaje")
    expect(messages(page, "in").last).to_have_class(re.compile(r"\bunisono-failed\b"))
    expect(page.locator("#unisono-input")).to_be_enabled()  # the chat stays usable
