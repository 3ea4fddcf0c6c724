"""bot/live.py: wake-ups within one process, and across replicas over a real Redis.

Two RedisBus instances in one test process stand for two replicas: each has its own connections
and its own origin, exactly as two processes would. Every test uses its own channel prefix, so
runs at the same time on one Redis stay apart. Without a reachable Redis the Redis tests skip.
"""
from __future__ import annotations

import asyncio
import os
import threading
import uuid
from typing import AsyncIterator, Callable

import pytest

from bot import live
from bot.live import RESYNC, LocalBus, RedisBus

REDIS_URL = os.environ.get("UNISONO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def next_wake(queue: asyncio.Queue, timeout: float = 3.0) -> int:
    return await asyncio.wait_for(queue.get(), timeout)


async def nothing_in(queue: asyncio.Queue, seconds: float = 0.3) -> bool:
    await asyncio.sleep(seconds)
    return queue.empty()


# -- one process ---------------------------------------------------------------------------------
async def test_a_publish_wakes_the_subscribers_of_that_conversation_only() -> None:
    bus = LocalBus()
    await bus.start()
    mine, again, other = bus.subscribe("c1"), bus.subscribe("c1"), bus.subscribe("c2")
    bus.publish("c1", 7)
    assert await next_wake(mine) == 7 and await next_wake(again) == 7
    assert await nothing_in(other)


async def test_unsubscribe_frees_the_queue() -> None:
    bus = LocalBus()
    queue = bus.subscribe("c1")
    assert bus.subscribers("c1") == 1
    bus.unsubscribe("c1", queue)
    assert bus.subscribers() == 0
    bus.publish("c1", 1)
    assert queue.empty()


async def test_publish_from_another_thread_wakes_the_loop() -> None:
    """The hub's listener may run off the loop (a store thread): the wake-up is handed over."""
    bus = LocalBus()
    await bus.start()
    queue = bus.subscribe("c1")
    thread = threading.Thread(target=bus.publish, args=("c1", 3))
    thread.start()
    thread.join()
    assert await next_wake(queue) == 3


async def test_a_stream_that_fell_behind_loses_wake_ups_not_messages() -> None:
    """A full queue drops wake-ups silently: the stream re-reads the store on the next one."""
    bus = LocalBus()
    queue = bus.subscribe("c1")
    for message_id in range(1, live.QUEUE_SIZE + 50):
        bus.publish("c1", message_id)
    assert queue.qsize() == live.QUEUE_SIZE


def test_the_bus_of_the_process_follows_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "_bus", None)
    monkeypatch.setenv("REDIS_URL", "")
    assert type(live.live_bus_from_env()) is LocalBus
    assert live.live_bus_from_env() is live.live_bus_from_env()  # one per process
    monkeypatch.setattr(live, "_bus", None)
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    monkeypatch.setenv("REDIS_PREFIX", "acme-staging")
    bus = live.live_bus_from_env()
    assert isinstance(bus, RedisBus) and bus.channel == "acme-staging:live"
    monkeypatch.setattr(live, "_bus", None)


# -- across replicas, over Redis -----------------------------------------------------------------
@pytest.fixture
async def redis_admin() -> AsyncIterator[object]:
    from redis import asyncio as aioredis

    client = aioredis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as error:  # noqa: BLE001
        await client.close()
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({type(error).__name__}); "
                    "start it or point UNISONO_TEST_REDIS_URL at one")
    yield client
    await client.close()
    await client.connection_pool.disconnect()


@pytest.fixture
async def replicas(redis_admin: object) -> AsyncIterator[Callable[[], RedisBus]]:
    """Makes started RedisBus instances on one test-only channel; closes them afterwards."""
    prefix = f"unisono-test-{uuid.uuid4().hex[:12]}"
    buses: list[RedisBus] = []

    async def make() -> RedisBus:
        bus = RedisBus(REDIS_URL, prefix, resync_seconds=0.2)
        await bus.start()
        buses.append(bus)
        await wait_until(lambda: bus.connected)
        return bus

    yield make
    for bus in buses:
        await bus.close()


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def drain(queue: asyncio.Queue) -> list[int]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


async def test_a_publish_on_one_replica_wakes_a_subscriber_on_another(replicas) -> None:
    a, b = await replicas(), await replicas()
    await asyncio.sleep(0.3)
    watching_on_b, other_on_b, watching_on_a = b.subscribe("c1"), b.subscribe("c2"), a.subscribe("c1")
    for queue in (watching_on_b, other_on_b, watching_on_a):
        await drain(queue)  # the wake-up every subscriber gets when its bus (re)connects
    a.publish("c1", 41)
    assert await next_wake(watching_on_b) == 41
    assert await next_wake(watching_on_a) == 41  # a's own viewer at once, without the round trip
    assert await nothing_in(watching_on_a)  # ... and not a second time when the broadcast echoes
    assert await nothing_in(other_on_b, 0.0)


async def test_unsubscribe_on_a_replica_frees_its_queue(replicas) -> None:
    a, b = await replicas(), await replicas()
    queue = b.subscribe("c1")
    b.unsubscribe("c1", queue)
    assert b.subscribers() == 0
    await drain(queue)
    a.publish("c1", 5)
    assert await nothing_in(queue, 0.5)


async def kill_subscriber(admin, bus: RedisBus) -> int:
    """CLIENT KILL on this bus's subscriber connection only (others share this Redis)."""
    clients = await admin.client_list(_type="pubsub")
    ids = [c["id"] for c in clients if c.get("name") == bus.client_name]
    assert len(ids) == 1, clients
    await admin.execute_command("CLIENT", "KILL", "ID", ids[0])
    return int(ids[0])


async def test_a_dropped_subscriber_connection_wakes_its_streams_and_comes_back(replicas, redis_admin) -> None:
    a, b = await replicas(), await replicas()
    queue = b.subscribe("c1")
    await drain(queue)
    killed = await kill_subscriber(redis_admin, b)
    # The streams are told to re-read the store: a wake-up published in the gap is not waited for.
    assert await next_wake(queue) == RESYNC
    clients = lambda: redis_admin.client_list(_type="pubsub")  # noqa: E731
    for _ in range(100):
        back = [c for c in await clients() if c.get("name") == b.client_name]
        if back and b.connected:
            break
        await asyncio.sleep(0.05)
    assert back and int(back[0]["id"]) != killed  # a new subscriber connection
    assert b._listener is not None and not b._listener.done()
    await drain(queue)
    a.publish("c1", 9)
    assert await next_wake(queue) == 9


async def test_without_redis_streams_are_woken_periodically_and_publish_does_not_fail() -> None:
    from tests.helpers import free_port

    bus = RedisBus(f"redis://127.0.0.1:{free_port()}/0", f"unisono-test-{uuid.uuid4().hex[:12]}",
                   resync_seconds=0.2, max_backoff=0.5)
    await bus.start()
    try:
        queue = bus.subscribe("c1")
        bus.publish("c1", 12)  # the local viewer is still woken at once
        assert await next_wake(queue) == 12
        wakes = []
        for _ in range(3):
            wakes.append(await next_wake(queue, 2.0))
        assert set(wakes) == {RESYNC}
        assert not bus.connected
        assert bus._listener is not None and not bus._listener.done()
    finally:
        await bus.close()
