"""The two servers under comparison, started side by side on free ports from the same model.

(A) ours: `rasa run` with our credentials.yml (web chat through the hub) and our tracker store.
(B) plain: `rasa run` with Rasa's built-in REST channel and the in-memory tracker store.
Both call the same action server. Everything started here is stopped by `Stack.stop()`.
"""
from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import httpx

from bot.config import ROOT
from ops import runner

# Connectors that would otherwise wake up from a developer's .env and talk to the outside world.
QUIET_CONNECTORS = (
    "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_AGENT_CHANNEL",
    "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_WHATSAPP_NUMBER",
    "TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "RASA_API_TOKEN",
)
WEBCHAT_SECRET = "bench-webchat-secret"
# The benchmark opens hundreds of web chat sessions from 127.0.0.1: limits it stays far below (the
# limiters still run, as in production).
GENEROUS_RATE_LIMITS = {
    "RATE_LIMIT_SESSIONS_PER_IP": "1000000", "RATE_LIMIT_MESSAGES_PER_IP": "1000000",
    "RATE_LIMIT_MESSAGES_PER_SESSION": "1000000", "RATE_LIMIT_LINK_CODES_PER_IP": "1000000",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> Optional[float]:
    """Resident memory of a process and its children (MB), from /proc; None once it is gone."""
    total_kb, found = 0, False
    for each in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
                    found = True
        except (OSError, ValueError):
            continue
    return round(total_kb / 1024, 1) if found else None


def _children(pid: int) -> list[int]:
    try:
        direct = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return direct + [grand for child in direct for grand in _children(child)]


def _wait_http(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {process.returncode}; see {log}:\n{_tail(log)}")
        try:
            if httpx.get(url, timeout=2, trust_env=False).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {timeout:.0f} s; see {log}:\n{_tail(log)}")


def _tail(path: Path, chars: int = 2500) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


@dataclass
class Stack:
    """Action server + our server + plain Rasa, all on one database for the business data."""

    database_url: str
    workdir: Path
    name: str = "sqlite"
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    _logs: list = field(default_factory=list)
    _pids: dict[str, int] = field(default_factory=dict)

    @property
    def ours_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['ours']}"

    @property
    def plain_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['plain']}"

    @property
    def action_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['actions']}/webhook"

    def env(self) -> dict[str, str]:
        env = {**runner._env(), "DATABASE_URL": self.database_url, "RASA_TELEMETRY_ENABLED": "false"}
        env.update({name: "" for name in QUIET_CONNECTORS})
        env["WEBCHAT_SECRET"] = WEBCHAT_SECRET
        env["WEBCHAT_IDENTITY_SECRET"] = WEBCHAT_SECRET + "-identity"
        env.update(GENEROUS_RATE_LIMITS)
        return env

    def start(self, timeout: float = 600.0) -> None:
        """Starts the three processes at once (model loading overlaps) and waits until all answer."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ports = {"actions": free_port(), "ours": free_port(), "plain": free_port()}
        action = f"action_endpoint:\n  url: {self.action_url}\n"
        ours_endpoints = self.workdir / f"endpoints-ours-{self.name}.yml"
        ours_endpoints.write_text(action + "tracker_store:\n  type: bot.tracker_store.UnisonoTrackerStore\n")
        plain_endpoints = self.workdir / f"endpoints-plain-{self.name}.yml"
        plain_endpoints.write_text(action)  # no tracker_store: Rasa's in-memory one
        plain_credentials = self.workdir / "credentials-plain.yml"
        plain_credentials.write_text("rest:\n")
        commands = {
            "actions": runner.action_server_command(self.ports["actions"]),
            "ours": runner.rasa_server_command(self.ports["ours"], str(ours_endpoints), str(ROOT / "credentials.yml"))
            + ["--interface", "127.0.0.1"],
            "plain": runner.rasa_server_command(self.ports["plain"], str(plain_endpoints), str(plain_credentials))
            + ["--interface", "127.0.0.1"],
        }
        env = self.env()
        for key, command in commands.items():
            log = open(self.log(key), "ab")
            self._logs.append(log)
            self.processes[key] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            self._pids[key] = self.processes[key].pid
        checks = {
            "actions": f"http://127.0.0.1:{self.ports['actions']}/health",
            "ours": f"{self.ours_url}/webhooks/webchat/",
            "plain": f"{self.plain_url}/webhooks/rest/",
        }
        for key, url in checks.items():
            _wait_http(url, self.processes[key], self.log(key), timeout)

    @property
    def pids(self) -> dict[str, int]:
        """Filled in as the processes start (the dict is shared, so callers see them on failure too)."""
        return self._pids

    def log(self, key: str) -> Path:
        return self.workdir / f"{key}-{self.name}.log"

    def rss_mb(self) -> dict[str, Optional[float]]:
        return {key: rss_mb(process.pid) for key, process in self.processes.items() if process.poll() is None}

    def alive(self) -> None:
        for key, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{key} server died ({process.returncode}); see {self.log(key)}:\n{_tail(self.log(key))}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 20
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        for log in self._logs:
            log.close()
        self._logs.clear()
