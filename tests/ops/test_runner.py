"""`make run` starts both servers and stops both cleanly on SIGTERM."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from bot.config import ROOT
from tests.helpers import PROVIDER_VARIABLES, free_port, wait_for_port

pytestmark = pytest.mark.model


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_run_serves_the_web_chat_and_stops_both_servers_on_sigterm(database_url, model_path):
    rasa_port, action_port = free_port(), free_port()
    env = {**os.environ, **{name: "" for name in PROVIDER_VARIABLES},
           "DATABASE_URL": database_url, "RASA_PORT": str(rasa_port), "ACTION_SERVER_PORT": str(action_port)}
    process = subprocess.Popen([sys.executable, "-m", "ops", "run"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(action_port, process)
        wait_for_port(rasa_port, process, timeout=180)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{rasa_port}/webhooks/webchat/demo", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("web chat demo page never answered")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        time.sleep(0.5)
        assert not _listening(rasa_port) and not _listening(action_port)
        banner = process.stdout.read().decode(errors="replace")
        assert f"http://localhost:{rasa_port}/webhooks/webchat/demo" in banner
        # Sanic switches DeprecationWarnings on; ops.quiet keeps them out of the output.
        assert "DeprecationWarning" not in banner
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
