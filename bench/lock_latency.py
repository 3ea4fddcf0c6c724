"""What the turn lock adds to a turn: acquire + release, uncontended, timed one by one.

    python -m bench.lock_latency [--redis-url redis://127.0.0.1:6379/0] [--turns 2000]

Each turn holds a fresh conversation (no waiting: this is the cost every turn pays, not the
queueing behind another turn of the same conversation). Times RedisTurnLocks (REDIS_URL or
--redis-url; skipped when unreachable) and LocalTurnLocks, plus a Redis PING as the floor of one
round trip. Keys live under a unique prefix and are deleted afterwards. Prints one JSON object
with milliseconds.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from typing import Any, Awaitable, Callable

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _summary(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50_ms": round(pick(0.5) * 1000, 3), "p95_ms": round(pick(0.95) * 1000, 3),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 3)}


async def _timed(turns: int, one: Callable[[int], Awaitable[Any]], warmup: int = 50) -> dict[str, float]:
    for i in range(warmup):
        await one(-1 - i)
    seconds = []
    for i in range(turns):
        began = time.perf_counter()
        await one(i)
        seconds.append(time.perf_counter() - began)
    return _summary(seconds)


async def _hold_once(locks: Any, prefix: str, i: int) -> None:
    async with locks.hold(f"{prefix}-{i}"):
        pass


async def measure(redis_url: str, turns: int, prefix: str | None = None) -> dict[str, Any]:
    """`prefix`: where the Redis keys go (unique by default), deleted at the end."""
    import redis.asyncio as aioredis

    from bot.turn_lock import LocalTurnLocks, RedisTurnLocks

    result: dict[str, Any] = {"turns": turns}
    local = LocalTurnLocks()
    result["local"] = await _timed(turns, lambda i: _hold_once(local, "bench", i))
    client = aioredis.Redis.from_url(redis_url)
    try:
        await client.ping()
    except Exception as exc:  # noqa: BLE001 - no Redis: report the local figure and say why
        result["redis"] = {"skipped": f"{redis_url}: {exc}"}
        return result
    prefix = prefix or f"bench-{uuid.uuid4().hex[:8]}"
    locks = RedisTurnLocks(redis_url, prefix=prefix)
    try:
        result["redis_ping"] = await _timed(turns, lambda i: client.ping())
        result["redis"] = await _timed(turns, lambda i: _hold_once(locks, "c", i))
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        for start in range(0, len(keys), 500):
            await client.delete(*keys[start:start + 500])
        await locks.close()
        await client.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL)
    parser.add_argument("--turns", type=int, default=2000)
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(measure(args.redis_url, args.turns))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
