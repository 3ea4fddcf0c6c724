"""The KPI dashboard (ops/admin/static) in Debian's headless Chromium, against the admin area served
over the golden set (tests/ops/conftest.py): it refuses to show anything without the token, shows
the API's figures with it (table, cards and charts compared with the JSON), puts customer words
with markup on the page as text, speaks the browser's language, and leaves a screenshot in
tests/artifacts/."""
from __future__ import annotations

from typing import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.ops.conftest import ADMIN_TOKEN, HTML_WORDS, AdminServers, artifact_dir

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT = 20000  # ms


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def open_dashboard(browser: Browser, servers: AdminServers, locale: str) -> Page:
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 1600}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # type: ignore[attr-defined]
    page.goto(servers.url + "/admin/")
    return page


def sign_in(page: Page, token: str) -> None:
    page.fill("#token", token)
    page.click("#token-form button[type=submit]")


def test_the_dashboard_shows_the_api_figures_only_with_the_token(browser: Browser, admin_servers: AdminServers) -> None:
    page = open_dashboard(browser, admin_servers, "es-MX")
    expect(page.locator("#sign-in")).to_be_visible()
    expect(page.locator("h1")).to_have_text("Indicadores del servicio")  # the browser's language
    assert page.evaluate("fetch('/admin/api/kpis').then(r => r.status)") == 401
    sign_in(page, "not-the-token")
    expect(page.locator("#sign-in-error")).to_have_text("Token no válido.", timeout=WAIT)
    expect(page.locator("#dashboard")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('unisono.admin.token')") is None

    sign_in(page, ADMIN_TOKEN)
    expect(page.locator("#dashboard")).to_be_visible(timeout=WAIT)
    page.fill("#since", "2026-12-01")
    page.fill("#until", "2026-12-02")
    page.check("#business-hours")
    page.click("#range button[type=submit]")
    figures = httpx.get(admin_servers.url + "/admin/api/kpis", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                        params={"since": "2026-12-01", "until": "2026-12-03", "business_hours": "1"}, timeout=20).json()
    channels = figures["channels"]
    expect(page.locator('[data-kpi="all.sessions"]')).to_have_text(str(channels["all"]["sessions"]), timeout=WAIT)
    for channel in ("whatsapp", "telegram", "webchat", "all"):
        for key in ("sessions", "handoffs", "abandoned"):
            expect(page.locator(f'[data-kpi="{channel}.{key}"]')).to_have_text(str(channels[channel][key]))
    rate = channels["all"]["containment_rate"]
    expect(page.locator('[data-kpi="all.containment_rate"]')).to_have_text(f"{100 * rate:.1f} %")
    expect(page.locator('[data-card="csat_score"]')).to_have_text(f"{channels['all']['csat']['score']:.1f} %")
    expect(page.locator('[data-kpi="whatsapp.first_response_human_p90"]')).to_have_text("8 min 48 s")  # 528 s
    daily = page.evaluate("Chart.getChart('chart-daily').data.datasets.map(d => d.data)")
    assert daily == [[day[c] for day in figures["daily"]] for c in ("whatsapp", "telegram", "webchat")]
    csat = page.evaluate("Chart.getChart('chart-csat').data.datasets.map(d => d.data)")
    assert csat == [[channels[c]["csat"]["distribution"][s] for s in "12345"] for c in ("whatsapp", "telegram", "webchat")]

    overdue = page.locator("#open tbody tr.level-breached")
    expect(overdue).to_have_count(1)
    expect(overdue.locator("td").nth(2)).to_have_text("Telegram")
    expect(overdue.locator("td").nth(5)).to_have_text("vencido")

    shown = page.locator("#missed li .text")
    expect(shown.filter(has_text="precio")).to_have_text(HTML_WORDS)  # the markup, as text
    assert page.locator("#missed img, #missed b").count() == 0 and page.evaluate("window.__injected") is None

    with page.expect_download() as download:  # the CSV button: the same file the API gives
        page.click("#csv")
    saved = download.value
    assert saved.suggested_filename == "kpis-2026-12-01-2026-12-02.csv"
    assert open(saved.path(), "rb").read() == httpx.get(
        admin_servers.url + "/admin/api/kpis.csv", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        params={"since": "2026-12-01", "until": "2026-12-03", "business_hours": "1"}, timeout=20).content

    screenshot = artifact_dir() / "admin-dashboard.png"
    page.screenshot(path=str(screenshot), full_page=True)
    print(f"dashboard screenshot: {screenshot}")
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_english_from_the_browser_and_a_switch_to_spanish(browser: Browser, admin_servers: AdminServers) -> None:
    page = open_dashboard(browser, admin_servers, "en-US")
    expect(page.locator("h1")).to_have_text("Service KPIs")
    sign_in(page, ADMIN_TOKEN)
    expect(page.locator("#dashboard")).to_be_visible(timeout=WAIT)
    expect(page.locator("#table th").first).to_have_text("Metric", timeout=WAIT)
    page.click("#lang-es")
    expect(page.locator("h1")).to_have_text("Indicadores del servicio")
    expect(page.locator("#table th").first).to_have_text("Indicador")
    assert page.evaluate("document.documentElement.lang") == "es"
    page.context.close()
