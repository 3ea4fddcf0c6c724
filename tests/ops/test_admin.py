"""ops/admin: the KPI API's contract, its token (401) and its absence without one (404), bad
periods (400), the CSV export; served for real over the golden set (tests/ops/conftest.py)."""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from typing import Any

import httpx
import pytest

from bot import audit
from bot.config import ROOT
from ops.admin.channel import csv_text
from tests.ops.conftest import ADMIN_TOKEN, HTML_WORDS, AdminServers

PERIOD = {"since": "2026-12-01", "until": "2026-12-03"}
DURATION_KEYS = {"count", "mean", "p50", "p90"}
KPI_KEYS = {"sessions", "contained", "containment_rate", "handoffs", "handoff_rate", "abandoned",
            "first_response_bot_s", "first_response_human_s", "resolution_s", "csat", "fallback_rate", "sla"}


def bearer(token: str = ADMIN_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def get(base: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(base + path, timeout=20, **kwargs)


def assert_kpi_block(block: dict[str, Any]) -> None:
    assert KPI_KEYS <= set(block)
    for key in ("sessions", "contained", "handoffs", "abandoned"):
        assert isinstance(block[key], int) and block[key] >= 0
    for key in ("containment_rate", "handoff_rate", "fallback_rate"):
        assert isinstance(block[key], float) and 0.0 <= block[key] <= 1.0
    for key in ("first_response_bot_s", "first_response_human_s", "resolution_s"):
        duration = block[key]
        assert set(duration) == DURATION_KEYS and isinstance(duration["count"], int)
        stats = [duration["mean"], duration["p50"], duration["p90"]]
        assert all(v is None for v in stats) if duration["count"] == 0 else all(isinstance(v, float) for v in stats)
    assert set(block["csat"]) == {"sent", "responses", "mean", "score", "distribution"}
    assert set(block["csat"]["distribution"]) == {"1", "2", "3", "4", "5"}
    assert sum(block["csat"]["distribution"].values()) == block["csat"]["responses"]
    assert set(block["sla"]) == {"warned", "breached"}


def test_without_admin_token_the_whole_area_is_not_there(admin_servers: AdminServers) -> None:
    off = admin_servers.off_url
    for path in ("/admin/", "/admin", "/admin/static/dashboard.js", "/admin/api/kpis", "/admin/api/kpis.csv",
                 "/admin/api/open"):
        assert get(off, path, headers=bearer()).status_code == 404, path
        assert get(off, path).status_code == 404, path
    assert httpx.post(off + "/admin/api/sign-in", headers=bearer(), timeout=20).status_code == 404


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer"}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {ADMIN_TOKEN}"},
    {"Authorization": f"Bearer {ADMIN_TOKEN}x"}, {"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"},
])
def test_the_api_wants_the_token(admin_servers: AdminServers, headers: dict[str, str]) -> None:
    for path in ("/admin/api/kpis", "/admin/api/kpis.csv", "/admin/api/open"):
        refused = get(admin_servers.url, path, headers=headers)
        assert refused.status_code == 401, path
        assert refused.json()["error"] == "unauthorized" and refused.headers["www-authenticate"].startswith("Bearer")
    assert httpx.post(admin_servers.url + "/admin/api/sign-in", headers=headers, timeout=20).status_code == 401


def test_the_page_and_its_files_are_served_to_anyone_once_the_area_exists(admin_servers: AdminServers) -> None:
    page = get(admin_servers.url, "/admin/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "kpi" not in page.text.lower().split("<title>")[0]  # no figures in the page itself
    chart = get(admin_servers.url, "/admin/static/vendor/chart.umd.js")
    assert chart.status_code == 200 and chart.content.startswith(b"/*!\n * Chart.js v4.4.9")
    readme = (ROOT / "ops/admin/static/vendor/README.md").read_text()
    assert hashlib.sha256(chart.content).hexdigest() in readme  # the vendored file is the pinned one
    assert get(admin_servers.url, "/admin/static/dashboard.js").status_code == 200
    for hidden in ("/admin/static/index.html", "/admin/static/vendor/README.md", "/admin/static/../channel.py"):
        assert get(admin_servers.url, hidden).status_code == 404, hidden


def admin_trail(servers: AdminServers, since: dt.datetime, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    monkeypatch.setenv("DATABASE_URL", servers.database_url)
    return [(e["actor"], e["action"]) for e in audit.entries(since) if e["actor"] == "admin:token"]


def test_a_sign_in_and_an_export_are_audited_not_every_call(admin_servers: AdminServers,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    since = dt.datetime.now(dt.timezone.utc)
    assert httpx.post(admin_servers.url + "/admin/api/sign-in", headers=bearer(), timeout=20).status_code == 204
    assert get(admin_servers.url, "/admin/api/kpis", params=PERIOD, headers=bearer()).status_code == 200
    assert get(admin_servers.url, "/admin/api/kpis", headers=bearer("wrong")).status_code == 401
    assert admin_trail(admin_servers, since, monkeypatch) == [("admin:token", "admin.sign_in")]
    assert get(admin_servers.url, "/admin/api/kpis.csv", params=PERIOD, headers=bearer()).status_code == 200
    (export,) = [e for e in audit.entries(since) if e["action"] == "kpis.export"]
    assert export["detail"] == {"since": "2026-12-01T06:00:00+00:00", "until": "2026-12-03T06:00:00+00:00",
                                "business_hours": False}


def test_the_kpis_keep_their_contract(admin_servers: AdminServers) -> None:
    answer = get(admin_servers.url, "/admin/api/kpis", params={**PERIOD, "business_hours": "1"}, headers=bearer())
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert {"since", "until", "business_hours", "channels"} <= set(body)
    assert (body["since"], body["until"], body["business_hours"]) == ("2026-12-01T06:00:00+00:00",
                                                                      "2026-12-03T06:00:00+00:00", True)
    assert set(body["channels"]) == {"whatsapp", "telegram", "webchat", "all"}
    for block in body["channels"].values():
        assert_kpi_block(block)
    everything = body["channels"]["all"]
    assert (everything["sessions"], everything["handoffs"], everything["abandoned"]) == (10, 7, 1)  # golden + two
    assert everything["first_response_human_s"] == {"count": 5, "mean": 228.0, "p50": 120.0, "p90": 456.0}
    assert everything["not_understood"][0] == {"text": "asdfgh", "count": 2}
    assert {"text": HTML_WORDS, "count": 1} in body["channels"]["webchat"]["not_understood"]


def test_a_period_without_traffic_has_every_channel_with_zeros(admin_servers: AdminServers) -> None:
    body = get(admin_servers.url, "/admin/api/kpis", params={"since": "2026-10-01", "until": "2026-10-02"},
               headers=bearer()).json()
    for block in body["channels"].values():
        assert_kpi_block(block)
        assert block["sessions"] == block["handoffs"] == block["csat"]["sent"] == 0
        assert block["containment_rate"] == block["handoff_rate"] == 0.0
        assert block["resolution_s"] == {"count": 0, "mean": None, "p50": None, "p90": None}


@pytest.mark.parametrize("params, field", [
    ({"since": "last tuesday"}, "since"),
    ({"since": "2026-02-30"}, "since"),
    ({"since": "2026-12-01", "until": "12/03/2026"}, "until"),
    ({"since": "2026-12-03", "until": "2026-12-01"}, "until"),
    ({"since": "2020-01-01", "until": "2026-12-01"}, "since"),
    ({"since": "2026-12-01", "business_hours": "2"}, "business_hours"),
])
def test_bad_input_is_a_clear_400(admin_servers: AdminServers, params: dict[str, str], field: str) -> None:
    for path in ("/admin/api/kpis", "/admin/api/kpis.csv"):
        answer = get(admin_servers.url, path, params=params, headers=bearer())
        assert answer.status_code == 400, (path, params)
        body = answer.json()
        assert body["error"] == "bad_request" and body["field"] == field and body["message"]


def test_the_csv_has_one_row_per_channel_with_the_json_figures(admin_servers: AdminServers) -> None:
    answer = get(admin_servers.url, "/admin/api/kpis.csv", params=PERIOD, headers=bearer())
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert re.fullmatch(r'attachment; filename="kpis-2026-12-01-2026-12-03\.csv"', answer.headers["content-disposition"])
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [row["channel"] for row in rows] == ["whatsapp", "telegram", "webchat", "all"]
    body = get(admin_servers.url, "/admin/api/kpis", params=PERIOD, headers=bearer()).json()
    assert answer.text == csv_text(body)  # the same figures, flattened
    whatsapp = rows[0]
    assert whatsapp["sessions"] == "4" and whatsapp["first_response_human_s_p90"] == "32207.2"
    assert rows[1]["resolution_s_mean"] == "" and rows[3]["csat_score"] == "66.7"
    assert HTML_WORDS not in answer.text  # figures only: no customer words in a spreadsheet


def test_open_items_are_listed_by_time_left_to_their_sla(admin_servers: AdminServers) -> None:
    body = get(admin_servers.url, "/admin/api/open", headers=bearer()).json()
    assert set(body) == {"now", "items"}
    (waiting,) = [item for item in body["items"] if item["kind"] == "handoff"]
    assert set(waiting) == {"kind", "ref", "channel", "due_at", "seconds_left", "level"}
    assert waiting["channel"] == "telegram" and waiting["level"] == "breached" and waiting["seconds_left"] < 0
    assert waiting["due_at"].startswith("2026-12-02T18:30:01")  # 30 business minutes after the request
