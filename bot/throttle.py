"""Rate limits: at most `count` hits per key in a window; past it, how long to wait (Retry-After).

A window is fixed and starts at a key's first hit: hits 1..count pass, the next ones are refused
until the window ends, then the count starts again. Cheap and predictable (one counter per key),
at the price of allowing up to twice `count` across a window's edge; the limits here bound floods
and guessing, where that factor does not matter.

`RedisLimiter` keeps the counters in Redis (one INCR and, on the first hit, PEXPIRE, in one
script), so every replica counts against the same limit. `LocalLimiter` keeps them in the
process: right for one process (`make run`), and each replica would count on its own, which is
why replicas (REDIS_URL set, as `make cluster` requires) use Redis. A limiter that cannot reach
Redis lets the request through and logs it: an outage of the counters must not stop the service.
"""
from __future__ import annotations

import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from typing import Callable, Optional, Protocol

from bot import config
from bot.redis_clients import LoopClients

logger = logging.getLogger(__name__)

SWEEP_EVERY = 1024  # hits between sweeps of a LocalLimiter's expired counters


@dataclass(frozen=True)
class Limit:
    """`count` hits per `window` seconds; `name` keeps its counters apart from other limits'."""

    name: str
    count: int
    window: float

    @property
    def off(self) -> bool:
        return self.count <= 0


class Limiter(Protocol):
    async def hit(self, limit: Limit, key: str) -> Optional[float]:
        """Counts a hit; None when allowed, else the seconds until the window ends."""


def retry_after(seconds: float) -> str:
    """The Retry-After header's value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


def ip_key(address: str) -> str:
    """What an IP counts under: IPv4 itself; IPv6 its /64 (one subscriber gets a whole /64)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


class LocalLimiter:
    """Counters in this process; `clock` is monotonic seconds (tests give their own)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}  # -> (window's end, hits)
        self._hits = 0

    async def hit(self, limit: Limit, key: str) -> Optional[float]:
        if limit.off:
            return None
        now = self.clock()
        self._sweep(now)
        end, hits = self._windows.get((limit.name, key), (0.0, 0))
        if now >= end:
            end, hits = now + limit.window, 0
        self._windows[(limit.name, key)] = (end, hits + 1)
        return None if hits + 1 <= limit.count else end - now

    def _sweep(self, now: float) -> None:
        self._hits += 1
        if self._hits % SWEEP_EVERY == 0:
            for window, (end, _) in list(self._windows.items()):
                if end <= now:
                    del self._windows[window]


_HIT = """
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {hits, ttl}
"""


class RedisLimiter:
    """Counters in Redis, shared by every replica: `<prefix>:rate:<limit>:<key>`."""

    def __init__(self, url: str, prefix: str = "unisono") -> None:
        self.prefix = prefix
        self._clients = LoopClients(url)
        self._failures = 0

    def counter_key(self, limit: Limit, key: str) -> str:
        return f"{self.prefix}:rate:{limit.name}:{key}"

    async def hit(self, limit: Limit, key: str) -> Optional[float]:
        if limit.off:
            return None
        window_ms = max(1, int(limit.window * 1000))
        try:
            hits, ttl_ms = await self._clients.get().eval(_HIT, 1, self.counter_key(limit, key), window_ms)
        except Exception as error:  # noqa: BLE001 - Redis away: let the request through
            self._failures += 1
            if self._failures == 1 or self._failures % 100 == 0:
                logger.warning("rate limits: Redis unreachable (%s, %d in a row); not limiting meanwhile",
                               type(error).__name__, self._failures)
            return None
        self._failures = 0
        return None if int(hits) <= limit.count else int(ttl_ms) / 1000

    async def close(self) -> None:
        await self._clients.close()


def limiter_from_env() -> Limiter:
    """Redis when REDIS_URL is set (replicas share the counters), else this process's own."""
    url = (config.get("REDIS_URL") or "").strip()
    if url:
        return RedisLimiter(url, (config.get("REDIS_PREFIX") or "").strip() or "unisono")
    return LocalLimiter()
