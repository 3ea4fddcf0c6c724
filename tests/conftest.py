"""Shared fixtures: one migrated, seeded SQLite database per test session, the real action
server on a free port, and the trained Rasa model loaded once.

Every test process points DATABASE_URL at its own temporary database before anything reads it.
"""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import settings as hypothesis_settings

from tests.helpers import (  # noqa: F401 (re-exported)
    GENEROUS_RATE_LIMITS, PROVIDER_VARIABLES, free_port, wait_for_port)

os.environ["RASA_TELEMETRY_ENABLED"] = "false"

# Property tests: the same examples on every run of `make test` (a red run is reproducible and a
# green one cannot turn red by luck); `make fuzz` explores with fresh random examples, run after run. Every failing
# example found while exploring is pinned with @example beside its test.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
hypothesis_settings.register_profile("explore", derandomize=False, database=None, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
ROOT = Path(__file__).resolve().parent.parent
_SESSION_DIR = Path(os.environ.get("UNISONO_TEST_DIR") or __import__("tempfile").mkdtemp(prefix="unisono-test-"))
os.environ["DATABASE_URL"] = f"sqlite:///{_SESSION_DIR / 'test.db'}"


@pytest.fixture(scope="session")
def database_url() -> str:
    """The session's database, migrated and seeded with the demo data."""
    from ops import migrate, seed

    url = os.environ["DATABASE_URL"]
    migrate.upgrade(url)
    seed.seed(url)
    return url


@pytest.fixture(scope="session")
def action_server(database_url: str) -> Iterator[str]:
    """The real rasa_sdk action server, as `make run` starts it, on a free port."""
    from ops import runner

    port = free_port()
    env = {**runner._env(), "DATABASE_URL": database_url}
    log = open(_SESSION_DIR / "action_server.log", "wb")
    process = subprocess.Popen(runner.action_server_command(port), cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def model_path() -> Path:
    from ops.training import MODEL_PATH, is_current

    if not is_current():
        pytest.fail("the trained model is missing or stale: run `make train` (make test does it)")
    return MODEL_PATH


class Chat:
    """Drives the trained model in-process, with the real action server, one turn at a time."""

    def __init__(self, agent, loop: asyncio.AbstractEventLoop) -> None:
        self.agent = agent
        self.loop = loop

    def send(self, sender_id: str, text: str) -> list[dict]:
        return self.loop.run_until_complete(self.agent.handle_text(text, sender_id=sender_id)) or []

    def texts(self, sender_id: str, text: str) -> list[str]:
        return [m.get("text") or "" for m in self.send(sender_id, text)]

    def tracker(self, sender_id: str):
        return self.loop.run_until_complete(self.agent.tracker_store.retrieve(sender_id))


@pytest.fixture(scope="session")
def chat(model_path: Path, action_server: str) -> Iterator[Chat]:
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig

    loop = asyncio.new_event_loop()
    agent = Agent.load(str(model_path), action_endpoint=EndpointConfig(url=action_server))
    try:
        yield Chat(agent, loop)
    finally:
        loop.close()


class Server:
    """The whole assistant as `make run` starts it: action server and Rasa server with our channels."""

    def __init__(self, base_url: str, database_url: str, env: dict[str, str], log_path: Path) -> None:
        self.base_url = base_url
        self.database_url = database_url
        self.env = env
        self.log_path = log_path

    def url(self, path: str) -> str:
        return self.base_url + path


def start_server(database_url: str, extra_env: dict[str, str] | None = None, name: str = "server"):
    """Starts action server + `rasa run`; returns (Server, stop function)."""
    from ops import runner
    from ops.training import MODEL_PATH

    action_port, rasa_port = free_port(), free_port()
    # A developer's .env must not switch channels on (pointed at real providers) in tests.
    channels_off = {name: "" for name in PROVIDER_VARIABLES}
    env = {
        **runner._env(),
        **channels_off,
        **GENEROUS_RATE_LIMITS,
        "DATABASE_URL": database_url,
        "WEBCHAT_SECRET": "test-webchat-secret",
        "WEBCHAT_IDENTITY_SECRET": "test-identity-secret",
        **(extra_env or {}),
    }
    endpoints = _SESSION_DIR / f"endpoints-{name}.yml"
    endpoints.write_text(
        f"action_endpoint:\n  url: http://127.0.0.1:{action_port}/webhook\n"
        "tracker_store:\n  type: bot.tracker_store.UnisonoTrackerStore\n"
        "lock_store:\n  type: bot.lock_store.UnisonoLockStore\n"
    )
    log_path = _SESSION_DIR / f"{name}.log"
    log = open(log_path, "ab")
    actions = subprocess.Popen(runner.action_server_command(action_port), cwd=ROOT, env=env, stdout=log, stderr=log)
    command = [sys.executable, "-m", "rasa", "run", "--model", str(MODEL_PATH), "--endpoints", str(endpoints),
               "--credentials", str(ROOT / "credentials.yml"), "--port", str(rasa_port), "--interface", "127.0.0.1"]
    rasa = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)

    def stop() -> None:
        for process in (rasa, actions):
            if process.poll() is None:
                process.terminate()
        for process in (rasa, actions):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()

    try:
        wait_for_port(action_port, actions)
        wait_for_port(rasa_port, rasa, timeout=180)
        _wait_ready(f"http://127.0.0.1:{rasa_port}/webhooks/webchat/", rasa)
    except Exception:
        stop()
        raise RuntimeError(f"server did not start; see {log_path}:\n" + log_path.read_text()[-3000:])
    return Server(f"http://127.0.0.1:{rasa_port}", database_url, env, log_path), stop


def _wait_ready(url: str, process: subprocess.Popen, timeout: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("rasa exited")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(url)


@pytest.fixture(scope="session")
def server(database_url: str, model_path: Path) -> Iterator[Server]:
    """The full stack on free ports, sharing the session's seeded database."""
    instance, stop = start_server(database_url)
    try:
        yield instance
    finally:
        stop()
