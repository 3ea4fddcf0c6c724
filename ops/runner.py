"""`make run`: the action server and the Rasa server as one supervised unit.

Ctrl-C or SIGTERM stops both; if either dies, the other is stopped too, so nothing is left
half-running on ports 5005/5055.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Optional

from bot import config
from bot.config import ROOT
from ops.training import MODEL_PATH


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env["DATABASE_URL"] = config.database_url()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    # Reliability fix (tests/reliability/test_forgery.py): rasa_sdk listens on SANIC_HOST, 0.0.0.0
    # by default, and its /webhook runs any action for any conversation without credentials. Only
    # the Rasa server on this host calls it. (`rasa run` ignores SANIC_HOST: it has --interface.)
    env.setdefault("SANIC_HOST", "127.0.0.1")
    return env


def action_server_command(port: int) -> list[str]:
    return [sys.executable, "-m", "ops.quiet", "rasa_sdk", "--actions", "actions", "--port", str(port)]


def rasa_server_command(port: int, endpoints: str = "endpoints.yml", credentials: str = "credentials.yml") -> list[str]:
    """`rasa run` with our channels; Rasa's HTTP API only when RASA_API_TOKEN protects it."""
    command = [
        sys.executable, "-m", "ops.quiet", "rasa", "run",
        "--model", str(MODEL_PATH), "--endpoints", endpoints, "--credentials", credentials,
        "--port", str(port), "--cors", "*",
    ]
    token = config.get("RASA_API_TOKEN")
    if token:
        command += ["--enable-api", "--auth-token", token]
    return command


def run(rasa_port: Optional[int] = None, action_port: Optional[int] = None) -> int:
    rasa_port = rasa_port or int(config.get("RASA_PORT") or 5005)
    action_port = action_port or int(config.get("ACTION_SERVER_PORT") or 5055)
    env = _env()
    endpoints = "endpoints.yml"
    if action_port != 5055:
        endpoints = str(_endpoints_for(action_port))
    children: list[subprocess.Popen] = [
        subprocess.Popen(action_server_command(action_port), cwd=ROOT, env=env),
        subprocess.Popen(rasa_server_command(rasa_port, endpoints=endpoints), cwd=ROOT, env=env),
    ]
    stopping = False

    def stop(signum: int, _frame: Optional[object]) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(
        f"\nunisono is starting (database: {_redacted(env['DATABASE_URL'])}).\n"
        f"  Rasa server:    http://localhost:{rasa_port}\n"
        f"  Action server:  http://localhost:{action_port}\n"
        f"  Web chat demo:  http://localhost:{rasa_port}/webhooks/webchat/demo\n"
        f"  Terminal chat:  make shell (in another terminal)\n"
        f"Stop with Ctrl-C.\n",
        flush=True,
    )
    code = 0
    while not stopping:
        for child in children:
            if child.poll() is not None:
                code = child.returncode or 1
                stopping = True
        time.sleep(0.2)
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 15
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    return code


def _endpoints_for(action_port: int):
    """endpoints.yml with another action server port (ACTION_SERVER_PORT)."""
    path = config.VAR_DIR / f"endpoints-{action_port}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "endpoints.yml").read_text().replace("localhost:5055", f"localhost:{action_port}")
    path.write_text(text)
    return path


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
