"""`make cluster` (`python -m ops cluster`): refuses what cannot share state, balances, heals, stops.

The cluster tests run the real command: an action server, two `rasa run` replicas and Debian's
HAProxy, on PostgreSQL (a throw-away schema) and Redis, on free ports. One cluster serves the
whole module, in order: balanced health, SIGKILL of a replica, SIGTERM of the cluster. Starting a
replica loads the model (30-90 s on this 2-core machine), so "back" is measured twice: started
again within 10 s (the supervisor), healthy again once the model is loaded.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest

from bot.config import ROOT
from ops import cluster as cluster_module
from ops.cluster import Child, Cluster, port_in_use
from tests.helpers import PROVIDER_VARIABLES, free_port, temporary_database

REDIS = os.environ.get("UNISONO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
STARTED = re.compile(r"(replica-\d+|actions|balancer) started \(pid (\d+)\)")


def _command(env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(ROOT), "PORT": str(free_port()), **env}
    return subprocess.run([sys.executable, "-m", "ops", "cluster"], cwd=ROOT, env=full, capture_output=True,
                          text=True, timeout=timeout)


# -- refusals: fast, no server ----------------------------------------------------------------------
def test_refuses_sqlite_before_starting_anything(tmp_path: Path) -> None:
    done = _command({"DATABASE_URL": f"sqlite:///{tmp_path / 'one.db'}", "REDIS_URL": REDIS,
                     "CLUSTER_DIR": str(tmp_path / "cluster")})
    assert done.returncode == 2
    assert "needs DATABASE_URL on PostgreSQL" in done.stderr and "sqlite" in done.stderr
    assert not (tmp_path / "cluster").exists() and "started" not in done.stderr


@pytest.mark.parametrize("redis_url, says", [("", "needs REDIS_URL"), ("redis://127.0.0.1:{port}/0", "is unreachable")])
def test_refuses_without_redis_before_starting_anything(tmp_path: Path, redis_url: str, says: str) -> None:
    done = _command({"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test",
                     "REDIS_URL": redis_url.format(port=free_port()), "CLUSTER_DIR": str(tmp_path / "cluster")})
    assert done.returncode == 2 and says in done.stderr, done.stderr
    assert not (tmp_path / "cluster").exists() and "started" not in done.stderr


# -- the balancer's X-Forwarded-For -------------------------------------------------------------------
@pytest.mark.parametrize("configured, trusted", [
    (None, "127.0.0.1"), ("", "127.0.0.1"), ("10.0.0.0/8", "10.0.0.0/8,127.0.0.1"),
    ("127.0.0.1, 10.0.0.0/8", "127.0.0.1,10.0.0.0/8"),
])
def test_the_replicas_trust_haproxys_x_forwarded_for_and_the_proxies_configured(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, configured, trusted) -> None:
    """Every request reaches a replica from HAProxy on 127.0.0.1: without trusting it, the web
    chat's rate limits would count every client as one."""
    monkeypatch.delenv("TRUSTED_PROXIES", raising=False)
    env = {} if configured is None else {"TRUSTED_PROXIES": configured}
    cluster = Cluster(2, free_port(), env, tmp_path)
    assert cluster.env["TRUSTED_PROXIES"] == trusted
    assert "option forwardfor" in cluster_module.haproxy_config(5005, [5100])


# -- the supervisor, on a cheap process -------------------------------------------------------------
def test_a_dead_child_is_started_again_and_one_that_keeps_dying_backs_off(monkeypatch, caplog) -> None:
    caplog.set_level("INFO", logger="ops.cluster")
    child = Child("replica-9", ["sleep", "60"], dict(os.environ))
    child.spawn()
    try:
        delays = []
        for _ in range(3):
            first = child.process.pid
            child.signal(signal.SIGKILL)
            child.process.wait(timeout=5)
            died = time.monotonic()
            Cluster._tend(child, died)  # notices the death, schedules the restart
            delays.append(round(child.restart_at - died))
            Cluster._tend(child, child.restart_at)  # the time has come
            assert child.alive() and child.process.pid != first
        assert delays == [1, 2, 4]  # crashes in a row double the wait (up to 30 s)
        assert "replica-9 exited with code -9; starting it again in 1 s" in caplog.text
    finally:
        child.signal(signal.SIGKILL)


# -- a real cluster ---------------------------------------------------------------------------------
def _haproxy() -> None:
    try:
        cluster_module.haproxy_binary()
    except cluster_module.ClusterError:
        subprocess.run(["make", "--no-print-directory", "haproxy"], cwd=ROOT, check=False)
        try:
            cluster_module.haproxy_binary()
        except cluster_module.ClusterError as error:
            pytest.fail(f"HAProxy is missing and `make haproxy` could not install it: {error}", pytrace=False)


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping())
    except Exception:
        return False


class Running:
    """`python -m ops cluster` in a process of its own, its output in a file."""

    def __init__(self, process: subprocess.Popen, output: Path, addresses: Cluster) -> None:
        self.process, self.output, self.addresses = process, output, addresses

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def pids(self, name: str) -> list[int]:
        return [int(pid) for who, pid in STARTED.findall(self.text()) if who == name]

    def health(self, url: str) -> tuple[int | None, dict]:
        try:
            with urllib.request.urlopen(url + "/health", timeout=5) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, {}
        except OSError:
            return None, {}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    from ops.training import is_current

    if not _redis_up():
        pytest.skip(f"Redis is not reachable at {REDIS} (set UNISONO_TEST_REDIS_URL to use another)")
    if not is_current():
        pytest.fail("the trained model is missing or stale: run `make train` (make test does it)")
    _haproxy()
    workdir = tmp_path_factory.mktemp("cluster")
    with temporary_database("postgresql", workdir) as database_url:
        ports = {"PORT": free_port(), "REPLICA_BASE_PORT": free_port(), "ACTION_SERVER_PORT": free_port()}
        while port_in_use(ports["REPLICA_BASE_PORT"] + 1):
            ports["REPLICA_BASE_PORT"] = free_port()
        env = {**os.environ, **{name: "" for name in PROVIDER_VARIABLES}, "PYTHONPATH": str(ROOT),
               "DATABASE_URL": database_url, "REDIS_URL": REDIS, "REPLICAS": "2", "CLUSTER_DIR": str(workdir),
               "WEBCHAT_SECRET": "test-webchat-secret", "WEBCHAT_IDENTITY_SECRET": "test-identity-secret",
               **{name: str(port) for name, port in ports.items()}}
        output = workdir / "cluster.out"
        with open(output, "wb") as sink:
            process = subprocess.Popen([sys.executable, "-m", "ops", "cluster"], cwd=ROOT, env=env,
                                       stdout=sink, stderr=subprocess.STDOUT)
        addresses = Cluster(2, ports["PORT"], {}, workdir, ports["REPLICA_BASE_PORT"], ports["ACTION_SERVER_PORT"])
        try:
            addresses.wait_ready(timeout=300)
            yield Running(process, output, addresses)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)


def test_the_balancer_answers_health_from_both_replicas_in_turn(running: Running) -> None:
    answers = [running.health(running.addresses.url) for _ in range(8)]
    assert [status for status, _ in answers] == [200] * 8
    spread = Counter(body["replica"] for _, body in answers)
    assert spread == Counter({"replica-0": 4, "replica-1": 4})  # round robin
    for i in range(2):
        status, body = running.health(running.addresses.replica_url(i))
        assert status == 200 and body == {"status": "ok", "replica": f"replica-{i}", "database": "ok", "redis": "ok"}


def test_every_replica_log_line_names_its_replica(running: Running) -> None:
    lines = [line for line in running.text().splitlines() if "Loading model" in line]
    assert len(lines) >= 2
    assert {re.search(r"\[(replica-\d)\]", line).group(1) for line in lines} == {"replica-0", "replica-1"}


def test_a_killed_replica_is_started_again_and_the_balancer_keeps_answering(running: Running) -> None:
    victim = running.pids("replica-1")[-1]
    os.kill(victim, signal.SIGKILL)
    killed, statuses = time.monotonic(), []
    while time.monotonic() - killed < 10:
        statuses.append(running.health(running.addresses.url)[0])
        time.sleep(0.2)
    assert set(statuses) == {200}, Counter(statuses)
    assert len(running.pids("replica-1")) == 2, "not started again within 10 s"
    assert "replica-1 exited with code -9; starting it again in 1 s" in running.text()
    deadline = time.monotonic() + 240
    while running.health(running.addresses.replica_url(1))[0] != 200:
        assert time.monotonic() < deadline, "the restarted replica did not become healthy"
        time.sleep(0.5)
    assert running.addresses.balanced_replicas(8) == {"replica-0", "replica-1"} or \
        _eventually_both(running)


def _eventually_both(running: Running) -> bool:
    """HAProxy puts a server back after two passed checks (2 s apart)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if running.addresses.balanced_replicas(4) == {"replica-0", "replica-1"}:
            return True
        time.sleep(1)
    return False


def test_sigterm_stops_every_process_of_the_cluster(running: Running) -> None:
    pids = [pid for name in ("actions", "replica-0", "replica-1", "balancer") for pid in running.pids(name)]
    assert len(pids) >= 4
    running.process.send_signal(signal.SIGTERM)
    assert running.process.wait(timeout=60) == 0
    left = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    assert left == [], f"still running: {left}"
    addresses = running.addresses
    ports = [addresses.port, addresses.action_port, addresses.replica_port(0), addresses.replica_port(1)]
    assert [p for p in ports if port_in_use(p)] == []
    assert "cluster stopped" in running.text()
