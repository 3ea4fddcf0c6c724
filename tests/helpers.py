"""Small helpers shared by tests (kept out of conftest.py, which pytest imports under its own name)."""
from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

PROVIDER_VARIABLES = (
    "PUBLIC_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_NUMBER", "TWILIO_API_BASE_URL",
    "TWILIO_TEMPLATE_CONTENT_SID", "TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_API_BASE_URL",
    "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_AGENT_CHANNEL", "SLACK_API_BASE_URL", "HANDOFF_NOW",
    "TWILIO_NOTICE_CONTENT_SID", "ORDER_EVENTS_SECRET",
)
# For stacks whose tests open many web chat sessions and messages from 127.0.0.1 (load, replicas,
# the channel suites): limits far above what they send, so the limiters still run and never bite.
# tests/reliability/test_rate_limits.py proves the limits themselves.
GENEROUS_RATE_LIMITS = {
    "RATE_LIMIT_SESSIONS_PER_IP": "1000000", "RATE_LIMIT_MESSAGES_PER_IP": "1000000",
    "RATE_LIMIT_MESSAGES_PER_SESSION": "1000000", "RATE_LIMIT_LINK_CODES_PER_IP": "1000000",
}


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


# PostgreSQL for tests: 127.0.0.1:5432/test (UNISONO_TEST_PG_URL overrides). Unreachable, its tests
# fail, unless UNISONO_SKIP_PG=1 says to skip them.
PG_CANDIDATES = (
    "postgresql://postgres@127.0.0.1:5432/test",
    "postgresql://root@127.0.0.1:5432/test",
)


def _reachable_pg() -> tuple[str | None, str]:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    configured = os.environ.get("UNISONO_TEST_PG_URL")
    errors = []
    for url in [configured] if configured else PG_CANDIDATES:
        engine = create_engine(url, future=True, connect_args={"connect_timeout": 3})
        try:
            with engine.connect():
                return url, ""
        except OperationalError as exc:
            errors.append(f"{url}: {str(exc.orig).strip()}")
        finally:
            engine.dispose()
    return None, "; ".join(errors)


@contextmanager
def temporary_database(kind: str, directory: Path) -> Iterator[str]:
    """A migrated, empty database of `kind` ("sqlite" or "postgresql"); removed on exit.

    On PostgreSQL it is a throw-away schema (selected with search_path), dropped afterwards.
    """
    import pytest
    from sqlalchemy import create_engine, text

    from bot import db
    from ops import migrate

    if kind == "sqlite":
        url = f"sqlite:///{directory / f'{uuid.uuid4().hex}.db'}"
        migrate.upgrade(url)
        try:
            yield url
        finally:
            db.dispose(url)
        return
    server, why = _reachable_pg()
    if server is None:
        if os.environ.get("UNISONO_SKIP_PG") == "1":
            pytest.skip(f"PostgreSQL unreachable and UNISONO_SKIP_PG=1 ({why})")
        pytest.fail(
            "PostgreSQL is not reachable at 127.0.0.1:5432, database 'test' "
            f"({why}). Start it, point UNISONO_TEST_PG_URL at one, or set UNISONO_SKIP_PG=1.",
            pytrace=False,
        )
    schema = f"unisono_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, future=True)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{server}?options=-csearch_path%3D{schema}"
    try:
        migrate.upgrade(url)
        yield url
    finally:
        db.dispose(url)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
