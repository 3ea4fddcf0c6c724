"""`GET /health`: 200 when the database (and Redis, when configured) answer, 503 when not or draining.

Each test serves the route from a real Sanic server in its own process, registered the way `rasa
run` registers credentials.yml's channels (rasa.core.channels.channel.register under /webhooks/),
against a real database and a real Redis; "unreachable" is a closed port on this host.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bot.config import ROOT
from bot.store.models import Job
from tests.helpers import free_port, temporary_database, wait_for_port

REDIS = os.environ.get("UNISONO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

SERVER = '''
import asyncio, sys
from sanic import Sanic
from rasa.core.channels.channel import register
import bot.hub
from ops.health import HealthInput

class SlowStoppingHub:
    """Stands in for the core's Hub.stop(grace) (issue 17) until it is merged: 3 s of draining."""
    async def stop(self, grace=10.0):
        print("hub stop called with grace", grace, flush=True)
        await asyncio.sleep(3)
        print("hub stopped", flush=True)

if sys.argv[2] == "slow-hub":
    bot.hub._hub = SlowStoppingHub()
elif sys.argv[2].startswith("holding:"):  # the real hub, working on a job it claimed
    bot.hub.get_hub().jobs.hold(int(sys.argv[2].split(":")[1]))
app = Sanic("health_test")
register([HealthInput()], app, "/webhooks/")
app.run(host="127.0.0.1", port=int(sys.argv[1]), access_log=False, motd=False)
'''


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping())
    except Exception:
        return False


def _serve(tmp_path: Path, env: dict[str, str], hub: str = "core") -> tuple[subprocess.Popen, str]:
    port = free_port()
    script = tmp_path / "health_server.py"
    script.write_text(SERVER)
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "REPLICA_NAME": "replica-test", **env}
    log = open(tmp_path / f"server-{port}.log", "wb")
    process = subprocess.Popen([sys.executable, str(script), str(port), hub], cwd=ROOT, env=full_env,
                               stdout=log, stderr=subprocess.STDOUT)
    log.close()
    wait_for_port(port, process, timeout=60)
    return process, f"http://127.0.0.1:{port}"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator:
    started: list[subprocess.Popen] = []

    def start(env: dict[str, str], hub: str = "core") -> str:
        process, url = _serve(tmp_path, env, hub)
        started.append(process)
        return url

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with temporary_database("postgresql", tmp_path_factory.mktemp("health")) as url:
        yield url


@pytest.fixture(scope="module")
def redis_url() -> str:
    if not _redis_up():
        pytest.skip(f"Redis is not reachable at {REDIS} (set UNISONO_TEST_REDIS_URL to use another)")
    return REDIS


def test_ready_with_postgresql_and_redis_up(serve, postgres: str, redis_url: str) -> None:
    url = serve({"DATABASE_URL": postgres, "REDIS_URL": redis_url})
    answer = httpx.get(url + "/health", timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "replica": "replica-test", "database": "ok", "redis": "ok"}
    assert httpx.get(url + "/webhooks/health", timeout=10).status_code == 404  # the root, not a webhook


def test_without_redis_url_redis_is_off_and_not_required(serve, tmp_path: Path) -> None:
    url = serve({"DATABASE_URL": f"sqlite:///{tmp_path / 'health.db'}", "REDIS_URL": ""})
    answer = httpx.get(url + "/health", timeout=10)
    assert answer.status_code == 200 and answer.json()["redis"] == "off" and answer.json()["database"] == "ok"


def test_unavailable_when_the_database_is_unreachable(serve, redis_url: str) -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/test"
    url = serve({"DATABASE_URL": nowhere, "REDIS_URL": redis_url})
    answer = httpx.get(url + "/health", timeout=10)
    assert answer.status_code == 503
    assert answer.json() == {"status": "unavailable", "replica": "replica-test", "database": "error", "redis": "ok"}


def test_unavailable_when_redis_is_unreachable(serve, postgres: str) -> None:
    url = serve({"DATABASE_URL": postgres, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    answer = httpx.get(url + "/health", timeout=10)
    assert answer.status_code == 503
    assert answer.json()["database"] == "ok" and answer.json()["redis"] == "error"


def test_sigterm_drains_health_turns_503_and_the_hub_is_stopped(tmp_path: Path, postgres: str,
                                                                 redis_url: str) -> None:
    process, url = _serve(tmp_path, {"DATABASE_URL": postgres, "REDIS_URL": redis_url}, hub="slow-hub")
    try:
        with httpx.Client(timeout=10) as client:  # one kept-alive connection, as a balancer's check may hold
            assert client.get(url + "/health").status_code == 200
            process.send_signal(signal.SIGTERM)
            time.sleep(1)  # inside the stand-in hub's 3 s stop
            draining = client.get(url + "/health")
        assert draining.status_code == 503
        assert draining.json()["status"] == "unavailable" and draining.json()["draining"] == "yes"
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    output = next(tmp_path.glob("server-*.log")).read_text()
    assert "hub stop called with grace 10.0" in output and "hub stopped" in output


def test_sigterm_gives_back_the_claims_the_real_hub_holds(tmp_path: Path, postgres: str, redis_url: str) -> None:
    """The core's Hub.stop: work this replica claimed is released at once, not left to its lease."""
    from bot import jobs as queue

    engine = create_engine(postgres)
    with Session(engine) as session, session.begin():
        job_id = queue.add(session, "inbound", "test-drain", owner="replica-test", lease=600)
    process, _url = _serve(tmp_path, {"DATABASE_URL": postgres, "REDIS_URL": redis_url}, hub=f"holding:{job_id}")
    try:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    with Session(engine) as session:
        job = session.get(Job, job_id)
        assert (job.claimed_by, job.lease_until) == (None, None)  # another replica may take it now
        session.delete(job)
        session.commit()
    engine.dispose()
