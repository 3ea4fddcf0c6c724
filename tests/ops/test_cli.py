"""`python -m ops` is the command line; `python -m bot` stays its alias, with the same verbs."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bot import db
from bot.config import ROOT
from ops import migrate

VERBS = ("setup", "train", "run", "cluster", "shell", "contacts", "audit", "kpis", "orders", "notices")


@pytest.mark.parametrize("module", ["ops", "bot"])
def test_both_names_offer_the_same_verbs(module: str) -> None:
    done = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"usage: python -m {module}" in done.stdout
    assert all(verb in done.stdout for verb in VERBS)


def test_the_alias_runs_a_verb(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'alias.db'}"
    migrate.upgrade(url)
    db.dispose(url)
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": url,
           "RASA_TELEMETRY_ENABLED": "false", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "bot", "contacts", "export", "nobody@example.com"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "no contact matches 'nobody@example.com'" in done.stderr


def test_kpis_prints_the_dashboard_figures_as_a_table_or_as_the_api_json(tmp_path, monkeypatch, capsys) -> None:
    from bot import kpis
    from ops.cli import main
    from tests.helpers import temporary_database
    from tests.helpers_kpis import golden

    with temporary_database("sqlite", tmp_path) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        golden()
        assert main(["kpis", "--since", "2026-12-01", "--until", "2026-12-03", "--json", "--business-hours"]) == 0
        assert json.loads(capsys.readouterr().out) == kpis.figures(kpis.period("2026-12-01", "2026-12-03", True))
        assert main(["kpis", "--since", "2026-12-01", "--until", "2026-12-03"]) == 0
        table = capsys.readouterr().out.splitlines()
        assert table[0] == "KPIs 2026-12-01 00:00 -> 2026-12-03 00:00 (America/Mexico_City, wall-clock)"
        assert table[2].split() == ["whatsapp", "telegram", "webchat", "all"]
        rows = {line[:26].strip(): line[26:].split() for line in table[4:]}
        assert rows["Sessions"] == ["4", "2", "2", "8"]
        assert rows["First response, agent p50"] == ["4m00s", "-", "1m30s", "2m00s"]
        assert rows["Resolution p90"] == ["9h16m", "-", "8m36s", "7h02m"]
        assert "     2  asdfgh" in table
        assert main(["kpis", "--since", "2026-12-03", "--until", "2026-12-01"]) == 2
        assert "until must be later than since" in capsys.readouterr().err


def test_the_audit_trail_is_read_by_time_and_actor(database_url, capsys) -> None:
    import datetime as dt
    import json

    from bot import audit
    from ops import cli

    agent = "agent:U0CLI00001"
    audit.record(agent, "handoff.claim", 77, {"conversation": "c-77"})
    audit.record("operator:ana", "contacts.export", 77, {"messages": 4})
    assert cli.main(["audit", "--since", "1h", "--who", "U0CLI00001"]) == 0
    shown = capsys.readouterr()
    assert agent in shown.out and "handoff.claim" in shown.out and "contact 77" in shown.out
    assert "contacts.export" not in shown.out and "1 entry since" in shown.err
    assert cli.main(["audit", "--since", "10m", "--contact", "77", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [(e["actor"], e["action"]) for e in entries][-2:] == [(agent, "handoff.claim"), ("operator:ana", "contacts.export")]
    assert cli.main(["audit", "--since", "ayer"]) == 2
    later = cli.since_time("2w", now=dt.datetime(2026, 12, 15, tzinfo=dt.timezone.utc))
    assert later == dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    assert cli.since_time("2026-12-01") == dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
