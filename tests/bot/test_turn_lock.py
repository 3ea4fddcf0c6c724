"""The per-conversation turn lock (bot/turn_lock.py): exclusion, rising fencing tokens, renewal,
and a holder paused past its lease, in one process and across real OS processes on real Redis."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from bot.turn_lock import (
    LeaseLost, LocalTurnLocks, RedisTurnLocks, current_lease, get_turn_locks, turn_locks_from_env,
)

ROOT = Path(__file__).resolve().parents[2]


async def _contend(locks: list, conversation_id: str, turns: int) -> list[tuple[float, float, int]]:
    """`turns` tasks spread over `locks` (replicas) each hold the conversation for a few awaits;
    returns (start, end, token) per turn."""
    spans: list[tuple[float, float, int]] = []

    async def turn(i: int) -> None:
        async with locks[i % len(locks)].hold(conversation_id) as lease:
            start = time.monotonic()
            await asyncio.sleep(0.001)
            spans.append((start, time.monotonic(), lease.token))

    await asyncio.gather(*(turn(i) for i in range(turns)))
    return sorted(spans)


def _assert_exclusive(spans: list[tuple[float, float, int]]) -> None:
    """Sorted by start: each turn starts after the previous one ended, with a larger token."""
    for (_, end, token), (start, _, next_token) in zip(spans, spans[1:]):
        assert start >= end, "two turns of one conversation overlapped"
        assert next_token > token, "a later holder got a token that is not larger"


# -- one process ------------------------------------------------------------------------------
async def test_local_turns_exclude_each_other_in_arrival_order() -> None:
    locks = LocalTurnLocks()
    order: list[int] = []

    async def turn(i: int) -> None:
        async with locks.hold("c") as lease:
            order.append(i)
            await asyncio.sleep(0.001)
            assert current_lease.get() is lease

    await asyncio.gather(*(turn(i) for i in range(20)))
    assert order == list(range(20))
    _assert_exclusive(await _contend([locks], "c", 20))


async def test_local_locks_are_freed_when_nobody_holds_or_awaits_them() -> None:
    locks = LocalTurnLocks()
    async with locks.hold("a"):
        waiter = asyncio.create_task(_hold_briefly(locks, "a"))
        await asyncio.sleep(0.01)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        assert len(locks) == 1
    assert len(locks) == 0
    with pytest.raises(RuntimeError):
        async with locks.hold("b"):
            raise RuntimeError("the turn failed")
    await _contend([locks], "c", 5)
    assert len(locks) == 0


async def _hold_briefly(locks, conversation_id: str) -> None:
    async with locks.hold(conversation_id):
        await asyncio.sleep(0)


async def test_local_tokens_rise_across_restarts_and_current_lease_follows_the_block() -> None:
    first = LocalTurnLocks()
    async with first.hold("c") as old:
        async with first.hold("other") as inner:
            assert current_lease.get() is inner
        assert current_lease.get() is old
    assert current_lease.get() is None
    async with LocalTurnLocks().hold("c") as new:  # a restarted process
        assert new.token > old.token
    assert not new.lost
    new.check()


def test_the_environment_chooses_the_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert isinstance(turn_locks_from_env(), LocalTurnLocks)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    assert isinstance(turn_locks_from_env(), RedisTurnLocks)
    get_turn_locks.cache_clear()
    try:
        assert get_turn_locks() is get_turn_locks()
    finally:
        get_turn_locks.cache_clear()


# -- Redis, in one process --------------------------------------------------------------------
async def test_redis_replicas_exclude_each_other(redis_url: str, prefix: str) -> None:
    replicas = [RedisTurnLocks(redis_url, prefix=prefix, owner=f"r{i}") for i in range(2)]
    try:
        spans = await _contend(replicas, "c", 30)
    finally:
        await asyncio.gather(*(r.close() for r in replicas))
    assert len(spans) == 30
    _assert_exclusive(spans)


async def test_release_never_deletes_another_owners_lock(redis_url: str, prefix: str) -> None:
    """A holder paused (the whole loop blocked, renewal included) past its lease comes back to
    find it lost; its release leaves the next holder's lock alone."""
    first = RedisTurnLocks(redis_url, lease_ms=300, prefix=prefix, owner="first")
    second = RedisTurnLocks(redis_url, prefix=prefix, owner="second")
    client = redis.Redis.from_url(redis_url)
    try:
        async with first.hold("c") as old:
            time.sleep(0.4)  # a pause: nothing of this process runs
            assert old.lost
            with pytest.raises(LeaseLost):
                old.check()
            async with second.hold("c") as new:
                assert new.token > old.token
                await first._release(old)
                assert client.get(second.lock_key("c")) == new.owner.encode()
        assert client.get(second.lock_key("c")) is None  # then the second one released its own
    finally:
        client.close()
        await first.close()
        await second.close()


async def test_renewal_keeps_the_lease_past_its_lifetime(redis_url: str, prefix: str) -> None:
    holder = RedisTurnLocks(redis_url, lease_ms=300, prefix=prefix, owner="holder")
    other = RedisTurnLocks(redis_url, prefix=prefix, owner="other")
    try:
        async with holder.hold("c") as lease:
            await asyncio.sleep(1.0)  # more than three lifetimes
            assert not lease.lost
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(_hold_briefly(other, "c"), 0.3)
            lease.check()
        await asyncio.wait_for(_hold_briefly(other, "c"), 1.0)  # free again once released
    finally:
        await holder.close()
        await other.close()


async def test_tokens_keep_rising_when_the_fence_counter_is_lost(redis_url: str, prefix: str) -> None:
    """The counter's TTL (or a flush) must not send tokens back: they start again from Redis's clock."""
    locks = RedisTurnLocks(redis_url, prefix=prefix)
    client = redis.Redis.from_url(redis_url)
    try:
        async with locks.hold("c") as before:
            pass
        assert client.pttl(locks.fence_key("c")) > 0
        client.delete(locks.fence_key("c"))
        async with locks.hold("c") as after:
            pass
        assert after.token > before.token
    finally:
        client.close()
        await locks.close()


# -- Redis, real processes ----------------------------------------------------------------------
RACER = """
import asyncio, json, random, sys, time
import redis
from bot.turn_lock import RedisTurnLocks

url, prefix, cid, turns = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

async def main():
    locks = RedisTurnLocks(url, prefix=prefix)
    sync = redis.Redis.from_url(url)
    sync.incr(prefix + ":ready")
    while int(sync.get(prefix + ":ready")) < 2:
        time.sleep(0.001)
    spans = []
    for _ in range(turns):
        async with locks.hold(cid) as lease:
            start = time.monotonic()
            await asyncio.sleep(0.0005)
            spans.append((start, time.monotonic(), lease.token))
        await asyncio.sleep(random.uniform(0, 0.001))
    await locks.close()
    print(json.dumps(spans))

asyncio.run(main())
"""


def test_two_processes_racing_1000_times_never_overlap(redis_url: str, prefix: str) -> None:
    """time.monotonic() is the machine's CLOCK_MONOTONIC: spans of both processes compare."""
    racers = [subprocess.Popen([sys.executable, "-c", RACER, redis_url, prefix, "c", "500"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [racer.communicate(timeout=60) for racer in racers]
    for racer, (_, err) in zip(racers, outputs):
        assert racer.returncode == 0, err
    tagged = sorted((*span, n) for n, (out, _) in enumerate(outputs) for span in json.loads(out))
    assert len(tagged) == 1000
    _assert_exclusive([span[:3] for span in tagged])
    switches = sum(1 for a, b in zip(tagged, tagged[1:]) if a[3] != b[3])
    assert switches >= 20, f"only {switches} hand-overs between the processes: not a race"


PAUSED = """
import asyncio, json, sys
from bot.turn_lock import LeaseLost, RedisTurnLocks

url, prefix, cid = sys.argv[1], sys.argv[2], sys.argv[3]

async def main():
    locks = RedisTurnLocks(url, lease_ms=400, prefix=prefix, owner="paused")
    async with locks.hold(cid) as lease:
        print(json.dumps({"token": lease.token}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # SIGSTOPped here
        await asyncio.sleep(0.2)  # its renewal wakes up too
        try:
            lease.check()
            raised = False
        except LeaseLost:
            raised = True
        print(json.dumps({"lost": lease.lost, "raised": raised}), flush=True)
    print(json.dumps({"released": True}), flush=True)
    await locks.close()

asyncio.run(main())
"""


async def test_a_holder_paused_past_its_lease_loses_it_to_a_larger_token(redis_url: str, prefix: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", PAUSED, redis_url, prefix, "c"], cwd=ROOT, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    next_holder = RedisTurnLocks(redis_url, prefix=prefix, owner="next")
    client = redis.Redis.from_url(redis_url)
    try:
        paused_token = json.loads(child.stdout.readline())["token"]
        os.kill(child.pid, signal.SIGSTOP)
        began = time.monotonic()
        async with next_holder.hold("c") as lease:
            assert time.monotonic() - began > 0.2, "the paused holder's lease ended too early"
            assert lease.token > paused_token
            os.kill(child.pid, signal.SIGCONT)
            child.stdin.write("go\n")
            child.stdin.flush()
            assert json.loads(child.stdout.readline()) == {"lost": True, "raised": True}
            assert json.loads(child.stdout.readline()) == {"released": True}
            assert client.get(next_holder.lock_key("c")) == lease.owner.encode()
            assert not lease.lost
        assert child.wait(timeout=10) == 0, child.stderr.read()
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGCONT)
            child.kill()
        client.close()
        await next_holder.close()
