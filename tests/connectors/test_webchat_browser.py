"""The web chat widget end to end: the demo page in Debian's headless Chromium against the real server."""
from __future__ import annotations

import json
import re
import time
from typing import Callable, Iterator, Optional

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, expect, sync_playwright

from bot import tokens

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
SESSION_ROUTE = "**/webhooks/webchat/session"
ANSWER = 20000  # ms: the model answers in well under a second, but the first turn warms it up
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

# The widget's own words (not the conversation's), as a customer and a screen reader meet them.
WIDGET_WORDS = {
    "es": {
        "subtitle": "Atención a clientes",
        "placeholder": "Escribe tu mensaje…",
        "send": "Enviar mensaje",
        "close": "Cerrar el chat",
        "you": "Tú: ",
    },
    "en": {
        "subtitle": "Customer service",
        "placeholder": "Type your message…",
        "send": "Send message",
        "close": "Close the chat",
        "you": "You: ",
    },
}
GREETING = {"es": "asistente virtual", "en": "virtual assistant"}

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


def shop_page(lang: Optional[str]) -> str:
    """A customer's site embedding the widget (no data-lang), in `lang` or with no lang at all."""
    attribute = f' lang="{lang}"' if lang else ""
    return (
        f"<!doctype html><html{attribute}><head><meta charset=\"utf-8\"><title>Shop</title></head>"
        "<body><h1>Mayoreo TI</h1>"
        '<script src="/webhooks/webchat/widget.js" data-open="true" async></script></body></html>'
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(scope="module")
def french_browser(browser: Browser) -> Iterator[Browser]:
    """Chromium set to French, then English (what Accept-Language and navigator.languages say)."""
    instance = browser.browser_type.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS + ["--lang=fr-FR", "--accept-lang=fr-FR,fr,en-US,en"]
    )
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture
def open_demo(browser: Browser, server) -> Iterator[Callable[..., Page]]:
    """Opens the demo page (or `html`, a page of a customer's site served from the same origin) in a
    fresh browser context (its own localStorage, so its own session) whose language is `locale`.

    With `hold_session` the widget's first request to the server waits until the test calls
    `release_session(page)`: what the widget shows until then owes nothing to the server.

    Every URL a page requests is logged (`requested[page]`); when the test ends, none may carry
    the session token the page holds, nor any `token` parameter: URLs end up in logs.
    """
    contexts, errors, pages = [], [], []
    held_sessions.clear()
    requested.clear()

    def opener(locale: Optional[str] = "es-MX", html: Optional[str] = None, hold_session: bool = False,
               on: Optional[Browser] = None) -> Page:
        context = (on or browser).new_context(**({"locale": locale} if locale else {}))
        contexts.append(context)
        page = context.new_page()
        pages.append(page)
        requested[page] = []
        log = requested[page]
        page.on("request", lambda request: log.append(request))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.add_init_script(FEED_PROBE)
        held: list = []
        if hold_session:
            page.route(SESSION_ROUTE, lambda route: held.append(route))
        if html is None:
            page.goto(server.url("/webhooks/webchat/demo"))
        else:
            address = server.url("/shop/index.html")  # never reaches the server: answered here
            page.route(address, lambda route: route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html))
            page.goto(address)
        expect(page.locator("#unisono-chat")).to_be_visible()  # data-open="true" opens it
        if hold_session:
            _wait_until(lambda: held, page)  # the widget has asked for its session, and waits
            held_sessions[page] = held
        return page

    yield opener
    leaks = [(token, r.url) for page in pages for token in [_held_token(page)] for r in requested[page]
             if "token=" in r.url or (token and (token in r.url or tokens.session_address(token) in r.url))]
    for context in contexts:
        context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"
    assert leaks == [], f"the session token in a URL: {leaks}"


requested: dict[Page, list[Request]] = {}  # every request each page of the test made, in order


def _held_token(page: Page) -> Optional[str]:
    try:
        return token_of(page)
    except Exception:  # noqa: BLE001 - a page that navigated away or crashed holds no token we can read
        return None


held_sessions: dict[Page, list] = {}  # a page opened with hold_session: its held session requests


def _wait_until(condition: Callable[[], object], page: Page, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(20)  # lets Playwright dispatch the events the condition is about


def release_session(page: Page) -> None:
    """Lets the widget's held request for a session (see open_demo) go on to the server."""
    page.unroute(SESSION_ROUTE)
    for route in held_sessions.pop(page):
        route.continue_()


def expect_widget_in(page: Page, lang: str) -> None:
    """The widget's own words, every one of them, are in `lang`."""
    words = WIDGET_WORDS[lang]
    expect(page.locator(".unisono-root")).to_have_attribute("lang", lang)
    expect(page.locator("#unisono-chat .unisono-subtitle")).to_have_text(words["subtitle"])
    expect(page.locator("#unisono-input")).to_have_attribute("placeholder", words["placeholder"])
    expect(page.locator("#unisono-send")).to_have_attribute("aria-label", words["send"])
    expect(page.locator("#unisono-launcher")).to_have_attribute("aria-label", words["close"])
    for who in messages(page, "in").locator(".unisono-sr-only").all():
        expect(who).to_have_text(words["you"])


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
        server.url("/webhooks/webchat/history"), headers={"Authorization": f"Bearer {token}"}, timeout=30,
        trust_env=False,
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
    page = open_demo("en-US", html=shop_page("en"))
    expect(page.locator("#unisono-input")).to_have_attribute("placeholder", "Type your message…")
    expect(page.locator("#unisono-send")).to_have_attribute("aria-label", "Send message")
    expect(messages(page)).to_have_count(0)  # a new browser is a new conversation
    chat(page, "hello")
    expect(messages(page, "out")).to_contain_text(["virtual assistant"], timeout=ANSWER)
    expect(messages(page, "out")).not_to_contain_text(["asistente virtual"])


# -- the widget's own words: the page's language from the first pixel, then the conversation's ------
def test_a_spanish_page_in_an_english_browser_speaks_spanish_from_the_start(open_demo) -> None:
    page = open_demo("en-US", hold_session=True)  # the demo page is <html lang="es">, no data-lang
    assert page.evaluate("navigator.languages[0]") == "en-US"
    expect_widget_in(page, "es")  # before the server has said a word
    release_session(page)
    chat(page, "hola")
    expect(messages(page, "out")).to_contain_text([GREETING["es"]], timeout=ANSWER)
    expect_widget_in(page, "es")


def test_an_english_page_in_a_spanish_browser_speaks_english_from_the_start(open_demo) -> None:
    page = open_demo("es-MX", html=shop_page("en"), hold_session=True)
    assert page.evaluate("navigator.languages[0]") == "es-MX"
    expect_widget_in(page, "en")
    release_session(page)
    chat(page, "hello")
    expect(messages(page, "out")).to_contain_text([GREETING["en"]], timeout=ANSWER)
    expect_widget_in(page, "en")


@pytest.mark.parametrize("locale, lang", [("es-MX", "es"), ("en-US", "en"), ("en-GB", "en")])
def test_a_page_without_a_language_follows_the_browser(open_demo, locale: str, lang: str) -> None:
    page = open_demo(locale, html=shop_page(None), hold_session=True)
    expect_widget_in(page, lang)
    release_session(page)
    expect(messages(page)).to_have_count(0)


def test_the_first_of_the_browsers_languages_the_widget_speaks(french_browser, open_demo) -> None:
    """A French page in a browser set to French, then English: English, not the Spanish default."""
    page = open_demo(None, html=shop_page("fr"), hold_session=True, on=french_browser)
    assert page.evaluate("navigator.languages")[:3] == ["fr-FR", "fr", "en-US"]
    expect_widget_in(page, "en")
    release_session(page)
    expect(messages(page)).to_have_count(0)


@pytest.mark.parametrize(
    "locale, html, first, then",
    [("es-MX", None, ("hola", "es"), ("hello", "en")), ("en-US", shop_page("en"), ("hello", "en"), ("hola", "es"))],
    ids=["spanish-page-to-english", "english-page-to-spanish"],
)
def test_the_widget_follows_the_conversation_language(open_demo, server, locale, html, first, then) -> None:
    page = open_demo(locale, html=html)
    (text, lang), (other_text, other) = first, then
    expect_widget_in(page, lang)
    chat(page, text)
    expect(messages(page, "out")).to_contain_text([GREETING[lang]], timeout=ANSWER)
    expect_widget_in(page, lang)

    chat(page, other_text)  # the customer switches language; the assistant answers in theirs
    expect(messages(page, "out")).to_contain_text([GREETING[lang], GREETING[other]], timeout=ANSWER)
    expect_widget_in(page, other)  # the labels of the messages shown before included

    page.reload()  # the page still says `lang`; the conversation, from history, says `other`
    expect(messages(page, "in")).to_have_count(2, timeout=ANSWER)
    expect_widget_in(page, other)


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
    assert tokens.session_address(token_of(page)) == tokens.session_address(token)  # renewed, same session
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


def _tampered(token: str) -> str:
    session_id, stamp, mac = token.rsplit(".", 2)
    return f"{session_id[:-1]}{'A' if session_id[-1] != 'A' else 'B'}.{stamp}.{mac}"


def _expired(token: str) -> str:
    """The same session's token as last renewed 31 days ago (WEBCHAT_SESSION_DAYS is 30)."""
    return tokens.sign_session(tokens.session_address(token), b"test-webchat-secret", now=time.time() - 31 * 86400)


@pytest.mark.parametrize("spoil", [_tampered, _expired], ids=["tampered", "expired"])
def test_a_tampered_or_expired_token_is_replaced_by_a_new_session(open_demo, server, spoil) -> None:
    page = open_demo()
    page.wait_for_function(f"localStorage.getItem({json.dumps(TOKEN_KEY)})")
    old = token_of(page)
    tampered = spoil(old)
    page.evaluate(f"localStorage.setItem({json.dumps(TOKEN_KEY)}, {json.dumps(tampered)})")

    page.reload()
    expect(page.locator("#unisono-chat")).to_be_visible()
    page.wait_for_function(
        "([key, bad]) => { const t = localStorage.getItem(key); return t && t !== bad; }",
        arg=[TOKEN_KEY, tampered],
        timeout=ANSWER,
    )
    fresh = token_of(page)
    assert tokens.session_address(fresh) != tokens.session_address(old)  # a new anonymous session
    renewed = httpx.post(
        server.url("/webhooks/webchat/session"), json={"token": fresh}, timeout=30, trust_env=False
    )
    assert renewed.status_code == 200  # the widget holds a genuine token again

    chat(page, "hola")
    expect(messages(page, "out")).to_contain_text(["asistente virtual"], timeout=ANSWER)
    expect(page.locator("#unisono-chat .unisono-notice")).to_be_hidden()


def test_the_live_feed_opens_with_single_use_tickets_and_the_token_stays_in_headers(open_demo, server) -> None:
    page = open_demo()
    chat(page, "hola")
    expect(messages(page, "out")).to_contain_text(["asistente virtual"], timeout=ANSWER)
    wait_for_feed(page, server)
    page.reload()  # a second stream, on a second ticket
    expect(messages(page, "out")).to_contain_text(["asistente virtual"], timeout=ANSWER)
    _wait_until(lambda: len([r for r in requested[page] if "/events?" in r.url]) >= 2, page)
    token = token_of(page)
    streams = [r for r in requested[page] if "/events?" in r.url]
    tickets = [re.search(r"[?&]ticket=([^&]+)", r.url).group(1) for r in streams]
    assert len(set(tickets)) == len(tickets) >= 2 and token not in tickets  # one per stream, never the token
    assert all("authorization" not in r.all_headers() for r in streams)
    bought = [r for r in requested[page] if r.url.endswith("/webhooks/webchat/ticket")]
    assert len(bought) >= 2 and all(r.method == "POST" for r in bought)
    assert all(r.all_headers()["authorization"].startswith(f"Bearer {tokens.session_address(token)}.")
               for r in bought)  # the session's token (renewed or not), in the header
    # The open_demo fixture then checks that no URL of the whole visit carries the token.


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
