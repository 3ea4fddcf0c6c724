"""The real assistant with each of its two processes under the test's control.

`tests/conftest.py::start_server` starts and stops the action server and `rasa run` together.
Fault tests need more: stop or freeze only the action server, SIGKILL only the Rasa server and
start it again on the same ports, and start Rasa with extra arguments (`--enable-api`). The
commands are the project's own (`ops.runner`), so what runs here is what `make run` runs.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Optional

import httpx

from bot.config import ROOT
from ops import runner
from tests.helpers import GENEROUS_RATE_LIMITS, PROVIDER_VARIABLES, free_port, wait_for_port

# What start_server sets for every stack, so sessions and identities are signed the same way; and
# rate limits the load and replica tests (many clients on 127.0.0.1) stay far below.
BASE_ENV = {"WEBCHAT_SECRET": "test-webchat-secret", "WEBCHAT_IDENTITY_SECRET": "test-identity-secret",
            **GENEROUS_RATE_LIMITS}


class SplitStack:
    """Action server + `rasa run` (credentials.yml, our tracker store) on fixed free ports."""

    def __init__(self, database_url: str, env: dict[str, str], name: str, workdir: Path,
                 api_token: Optional[str] = None) -> None:
        self.database_url = database_url
        self.name = name
        self.api_token = api_token
        self.action_port, self.rasa_port = free_port(), free_port()
        channels_off = {variable: "" for variable in PROVIDER_VARIABLES}
        self.env = {**runner._env(), **channels_off, **BASE_ENV, "NO_PROXY": "127.0.0.1,localhost",
                    "DATABASE_URL": database_url, "RASA_API_TOKEN": api_token or "", **env}
        self.endpoints = workdir / f"endpoints-{name}.yml"
        self.endpoints.write_text(
            f"action_endpoint:\n  url: http://127.0.0.1:{self.action_port}/webhook\n"
            "tracker_store:\n  type: bot.tracker_store.UnisonoTrackerStore\n"
            "lock_store:\n  type: bot.lock_store.UnisonoLockStore\n"
        )
        self.log_path = workdir / f"{name}.log"
        self.actions: Optional[subprocess.Popen] = None
        self.rasa: Optional[subprocess.Popen] = None
        self.client = httpx.Client(timeout=60)

    # -- addresses --------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.post(self.url(path), **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(self.url(path), **kwargs)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- processes --------------------------------------------------------------------------------
    def _spawn(self, command: list[str]) -> subprocess.Popen:
        log = open(self.log_path, "ab")
        try:
            return subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        finally:
            log.close()  # the child keeps its own descriptor

    def rasa_command(self) -> list[str]:
        """ops.runner's `rasa run` command, with RASA_API_TOKEN as this stack sets it."""
        saved = os.environ.get("RASA_API_TOKEN")
        os.environ["RASA_API_TOKEN"] = self.api_token or ""
        try:
            command = runner.rasa_server_command(
                self.rasa_port, endpoints=str(self.endpoints), credentials=str(ROOT / "credentials.yml")
            )
        finally:
            if saved is None:
                os.environ.pop("RASA_API_TOKEN", None)
            else:
                os.environ["RASA_API_TOKEN"] = saved
        return command + ["--interface", "127.0.0.1"]

    def start(self) -> "SplitStack":
        self.start_actions()
        self.start_rasa()
        return self

    def start_actions(self) -> None:
        self.actions = self._spawn(runner.action_server_command(self.action_port))
        wait_for_port(self.action_port, self.actions)

    def start_rasa(self, timeout: float = 240.0) -> None:
        self.rasa = self._spawn(self.rasa_command())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.rasa.poll() is not None:
                raise RuntimeError(f"rasa exited with {self.rasa.returncode}; see {self.log_path}:\n{self.log()[-3000:]}")
            try:
                if httpx.get(self.url("/webhooks/webchat/"), timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"rasa did not answer within {timeout} s; see {self.log_path}")

    @staticmethod
    def _end(process: Optional[subprocess.Popen], sig: int = signal.SIGTERM) -> None:
        if process is None or process.poll() is not None:
            return
        try:
            os.kill(process.pid, signal.SIGCONT)  # a frozen process cannot act on SIGTERM
        except ProcessLookupError:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def stop_actions(self) -> None:
        self._end(self.actions)

    def freeze_actions(self) -> None:
        """SIGSTOP: the action server accepts connections but never answers (a hung process)."""
        assert self.actions is not None
        os.kill(self.actions.pid, signal.SIGSTOP)

    def thaw_actions(self) -> None:
        assert self.actions is not None
        os.kill(self.actions.pid, signal.SIGCONT)

    def stop_rasa(self) -> None:
        self._end(self.rasa)

    def kill_rasa(self) -> None:
        """SIGKILL: no shutdown hook runs, whatever was in memory is lost."""
        self._end(self.rasa, signal.SIGKILL)

    def ensure_running(self) -> None:
        if self.actions is None or self.actions.poll() is not None:
            self.start_actions()
        else:
            os.kill(self.actions.pid, signal.SIGCONT)
        if self.rasa is None or self.rasa.poll() is not None:
            self.start_rasa()

    def stop(self) -> None:
        self.stop_rasa()
        self.stop_actions()
