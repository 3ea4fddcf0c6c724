"""The admin area served for real (Sanic, routes registered the way `rasa run` registers
credentials.yml's channels) over a database holding the KPI golden set, twice: with ADMIN_TOKEN
and without it. Started once per test session, both at once, and only when a test asks."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from bot.config import ROOT
from tests.helpers import free_port, temporary_database, wait_for_port

ADMIN_TOKEN = "test-admin-token-0123456789"
# Besides the golden set: customer words with markup, not understood (the dashboard must show
# them as text), and a hand-off nobody has answered since Wednesday 2 December 18:00 (overdue).
HTML_WORDS = '<img src=x onerror="window.__injected=1"><b>¿precio?</b>'

SERVER = '''
import sys
from sanic import Sanic
from rasa.core.channels.channel import register
from ops.admin import AdminInput

app = Sanic("admin_test")
register([AdminInput()], app, "/webhooks/")
app.run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False, motd=False)
'''


@dataclass(frozen=True)
class AdminServers:
    url: str  # ADMIN_TOKEN set
    off_url: str  # ADMIN_TOKEN unset
    database_url: str
    token: str = ADMIN_TOKEN


def _golden_with_markup(url: str) -> None:
    from tests.helpers_kpis import Script, golden, local

    previous = os.environ["DATABASE_URL"]
    os.environ["DATABASE_URL"] = url
    try:
        golden()
        s = Script()
        s.says("hack", "webchat", HTML_WORDS, local(2, 12))
        s.bot("hack", local(2, 12, 0, 1), response="utter_fallback")
        s.says("ivan", "telegram", "necesito un asesor", local(2, 18))  # still waiting: an open item
        s.hand_off("ivan", local(2, 18, 0, 1))
    finally:
        os.environ["DATABASE_URL"] = previous


@pytest.fixture(scope="session")
def admin_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminServers]:
    directory = tmp_path_factory.mktemp("admin")
    script = directory / "admin_server.py"
    script.write_text(SERVER)
    processes: list[subprocess.Popen] = []
    with temporary_database("sqlite", directory) as url:
        _golden_with_markup(url)
        ports = []
        for token in (ADMIN_TOKEN, ""):
            port = free_port()
            env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": url, "ADMIN_TOKEN": token,
                   "RASA_TELEMETRY_ENABLED": "false"}
            log = open(directory / f"server-{port}.log", "wb")
            processes.append(subprocess.Popen([sys.executable, str(script), str(port)], cwd=ROOT, env=env,
                                              stdout=log, stderr=subprocess.STDOUT))
            log.close()
            ports.append(port)
        try:
            for port, process in zip(ports, processes):
                wait_for_port(port, process, timeout=90)
            yield AdminServers(f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}", url)
        finally:
            for process in processes:
                process.kill()  # nothing to finish: the test database goes with it
                process.wait(timeout=10)


def artifact_dir() -> Path:
    """Where tests leave files for people to look at (git-ignored)."""
    path = ROOT / "tests" / "artifacts"
    path.mkdir(exist_ok=True)
    return path
