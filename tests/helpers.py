"""Small helpers shared by tests (kept out of conftest.py, which pytest imports under its own name)."""
from __future__ import annotations

import socket
import subprocess
import time

PROVIDER_VARIABLES = (
    "PUBLIC_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_NUMBER", "TWILIO_API_BASE_URL",
    "TWILIO_TEMPLATE_CONTENT_SID", "TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_API_BASE_URL",
    "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_AGENT_CHANNEL", "SLACK_API_BASE_URL", "HANDOFF_NOW",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen | None = None, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listening on port {port} after {timeout} s")
