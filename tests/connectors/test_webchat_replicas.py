"""Live web chat across two replicas: a reply stored on B reaches the stream open on A, at once.

Two real `rasa run` servers on one PostgreSQL database (a throw-away schema) and one Redis (a
channel prefix of this test's own), sharing one action server, as `make cluster` runs them. The
browser's stream is opened on A while its messages are posted to B; then it reconnects to B,
resuming after the last id it saw, as a browser behind a load balancer does. Each stream opens with
a single-use ticket bought on the other replica (tickets live in Redis), and a ticket used on one
replica is refused on the other.
"""
from __future__ import annotations

import os
import queue
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator, Optional

import httpx
import pytest

from ops import seed
from tests.helpers import temporary_database
from tests.reliability.stack import SplitStack

pytestmark = pytest.mark.model

BASE = "/webhooks/webchat"
REDIS_URL = os.environ.get("UNISONO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LIVE_WITHIN = 3.0  # seconds after the reply is stored; the heartbeat (the only other wake-up) is 15


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({type(error).__name__}): the replicas need "
                    "it for live web chat; start it or point UNISONO_TEST_REDIS_URL at one")


def _start_rasa_together(stacks: list[SplitStack]) -> None:
    errors: list[BaseException] = []

    def start(stack: SplitStack) -> None:
        try:
            stack.start_rasa()
        except BaseException as error:  # noqa: BLE001 - re-raised below
            errors.append(error)

    threads = [threading.Thread(target=start, args=(stack,)) for stack in stacks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


@pytest.fixture(scope="module")
def replicas(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SplitStack, SplitStack]]:
    """Replica A (with the action server) and replica B (using A's action server)."""
    _redis_or_skip()
    workdir = tmp_path_factory.mktemp("replicas")
    with temporary_database("postgresql", workdir) as url:
        assert seed.seed(url) is True
        env = {"REDIS_URL": REDIS_URL, "REDIS_PREFIX": f"unisono-test-{uuid.uuid4().hex[:12]}"}
        a = SplitStack(url, {**env, "REPLICA_NAME": "replica-a"}, "replica-a", workdir)
        b = SplitStack(url, {**env, "REPLICA_NAME": "replica-b"}, "replica-b", workdir)
        b.action_port = a.action_port
        b.endpoints.write_text(a.endpoints.read_text())
        try:
            a.start_actions()
            _start_rasa_together([a, b])
            yield a, b
        finally:
            b.stop_rasa()
            a.stop()


class Stream:
    """A browser's SSE stream read in a thread: (arrival time, "comment" | id) as they come."""

    def __init__(self, url: str, params: dict, headers: Optional[dict] = None) -> None:
        self.lines: "queue.Queue[tuple[float, str]]" = queue.Queue()
        self._client = httpx.Client(timeout=httpx.Timeout(30.0), trust_env=False)
        self._response = self._client.send(
            self._client.build_request("GET", url, params=params, headers=headers), stream=True)
        assert self._response.status_code == 200
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for line in self._response.iter_lines():
                if line.startswith(":"):
                    self.lines.put((time.monotonic(), "comment" + line))
                elif line.startswith("id:"):
                    self.lines.put((time.monotonic(), line[3:].strip()))
        except Exception:  # noqa: BLE001 - closed by the test
            pass

    def next(self, timeout: float) -> tuple[float, str]:
        return self.lines.get(timeout=timeout)

    def ids(self, count: int, timeout: float = 60.0) -> list[tuple[float, int]]:
        """The next `count` message ids with their arrival times; fails on a heartbeat between."""
        received: list[tuple[float, int]] = []
        while len(received) < count:
            at, item = self.next(timeout)
            assert item != "comment: ping", "a message came with the heartbeat, not with its wake-up"
            if not item.startswith("comment"):
                received.append((at, int(item)))
        return received

    def quiet(self, seconds: float) -> list[str]:
        """What else the stream sends within `seconds` (message ids only)."""
        extra, deadline = [], time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                _, item = self.next(left)
            except queue.Empty:
                break
            if not item.startswith("comment"):
                extra.append(item)
        return extra

    def close(self) -> None:
        self._response.close()
        self._client.close()


def say(stack: SplitStack, token: str, text: str) -> tuple[dict, float]:
    """Posts a message; the answer and when it came (every reply is stored by then)."""
    response = stack.post(BASE + "/webhook", headers={"Authorization": f"Bearer {token}"},
                          json={"text": text, "client_id": uuid.uuid4().hex})
    assert response.status_code == 200, response.text
    return response.json(), time.monotonic()


def ids_of(answer: dict) -> list[int]:
    return [answer["message_id"]] + [reply["id"] for reply in answer["replies"]]


def ticket(stack: SplitStack, token: str) -> str:
    response = stack.post(BASE + "/ticket", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()["ticket"]


def test_a_reply_stored_on_b_reaches_the_stream_on_a_and_resuming_on_b_loses_nothing(replicas) -> None:
    a, b = replicas
    token = a.post(BASE + "/session", json={}).json()["token"]
    first, _ = say(b, token, "hola")  # the conversation exists before the stream opens
    seen = ids_of(first)

    first_ticket = ticket(b, token)
    on_a = Stream(a.url(BASE + "/events"), {"ticket": first_ticket, "after": seen[-1]})
    try:
        assert on_a.next(30)[1] == "comment: connected"  # subscribed to the bus before this line
        answer, stored_at = say(b, token, "cuál es su horario?")
        arrived = on_a.ids(len(ids_of(answer)))
        assert [message_id for _, message_id in arrived] == ids_of(answer)
        assert arrived[-1][0] - stored_at < LIVE_WITHIN, "the reply stored on B was late on A's stream"
        seen += ids_of(answer)
    finally:
        on_a.close()

    # The browser is away; a message and its replies are stored (on A this time) meanwhile.
    missed, _ = say(a, token, "where is my order PED-10234?")
    # It reconnects through the load balancer, to B, resuming after the last id it saw.
    assert b.get(BASE + "/events", params={"ticket": first_ticket}).status_code == 401  # used, on A
    on_b = Stream(b.url(BASE + "/events"), {"ticket": ticket(a, token)}, headers={"Last-Event-ID": str(seen[-1])})
    try:
        assert on_b.next(30)[1] == "comment: connected"
        caught_up = [message_id for _, message_id in on_b.ids(len(ids_of(missed)))]
        assert caught_up == ids_of(missed)  # what it missed, once, in order
        seen += caught_up
        live, stored_at = say(a, token, "gracias")
        arrived = on_b.ids(len(ids_of(live)))
        assert [message_id for _, message_id in arrived] == ids_of(live)
        assert arrived[-1][0] - stored_at < LIVE_WITHIN, "the reply stored on A was late on B's stream"
        seen += ids_of(live)
        assert on_b.quiet(1.0) == []  # nothing repeated
    finally:
        on_b.close()

    history = b.get(BASE + "/history", headers={"Authorization": f"Bearer {token}"}).json()["messages"]
    assert [m["id"] for m in history] == seen  # every stored message was seen once, in order
