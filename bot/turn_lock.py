"""One turn at a time per conversation, across processes: a lease with a fencing token.

A turn holds its conversation's lease while it runs (`async with get_turn_locks().hold(cid) as
lease`). Two implementations:

- `LocalTurnLocks`: one process (`make run`, SQLite): an asyncio.Lock per conversation.
- `RedisTurnLocks`: any number of replicas sharing `REDIS_URL`. Acquiring is one Lua script
  (`SET NX PX` and, only on success, the fence counter's `INCR`), so the lock and its token are
  assigned together; a background task renews the lease every third of its lifetime with a
  compare-and-`PEXPIRE`; release is a compare-and-`DEL` that never deletes another owner's lock.

A lease can be lost: a holder paused (GC, SIGSTOP, a full disk) or cut off from Redis past its
lifetime finds `lease.lost` True, and meanwhile another replica may hold the conversation with a
larger token. The lock alone cannot stop a paused holder that wakes up mid-write, hence the token:
the store keeps the largest token it has seen per conversation and refuses writes with a smaller
one (the integrator's `conversations.fence` column). Tokens are microseconds since the epoch or
above, in both implementations, so they keep increasing across restarts and when a deployment
moves from one process to Redis.
"""
from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import random
import time
import uuid
import weakref
from collections import Counter
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import AsyncContextManager, AsyncIterator, Iterator, Optional, Protocol

from bot import config

logger = logging.getLogger(__name__)

# Why 10 s: it bounds how long a conversation stays blocked when its replica dies mid-turn
# (SIGKILL, a lost machine), against Rasa's 60 s ticket lifetime; renewal every 3.3 s lets a slow
# turn (an action server taking 20 s) keep it, and a holder must be paused for more than ~6.7 s
# (two missed renewals) before it loses the lease. Shorter leases make pauses more likely to
# matter; longer ones make a crash cost more.
DEFAULT_LEASE_MS = 10_000
# Why a fence TTL of 30 days, refreshed on every acquisition: the token must never go back while
# the store holds a token for the conversation. The acquire script also raises the counter to
# Redis's clock in microseconds, so a counter that expired (or was lost with a flush or a failover)
# restarts above every token it issued; the TTL only frees the keys of conversations gone quiet.
FENCE_TTL_MS = 30 * 24 * 3600 * 1000
FIRST_WAIT_S, MAX_WAIT_S = 0.002, 0.05  # polling while another holder has the conversation
# The lease is trusted locally for less than its Redis lifetime: clock rates differ a little
# between this host and Redis, and the lifetime starts when Redis ran the script, after we sent it.
DRIFT_FACTOR, DRIFT_FLOOR_S = 0.01, 0.002


class LeaseLost(Exception):
    """The lease ended (expired or taken over) before its holder finished: it must not write."""


@dataclass
class Lease:
    """The right to run one turn of `conversation_id`, while not `lost`; `token` fences writes."""

    conversation_id: str
    token: int
    owner: str
    expires_at: float = field(default=math.inf, repr=False, compare=False)  # time.monotonic()
    _lost: bool = field(default=False, init=False, repr=False, compare=False)
    ended: bool = field(default=False, init=False, repr=False, compare=False)  # its hold() block is over

    @property
    def lost(self) -> bool:
        """True once a renewal failed or the lease outlived its deadline; it never comes back."""
        if not self._lost and time.monotonic() >= self.expires_at:
            self._lost = True
        return self._lost

    def check(self) -> None:
        """Raises LeaseLost when lost: call it before a write that another holder must not race."""
        if self.lost:
            raise LeaseLost(f"lease {self.token} of {self.owner} on conversation {self.conversation_id} is lost")

    def mark_lost(self) -> None:
        self._lost = True


class TurnLocks(Protocol):
    def hold(self, conversation_id: str) -> AsyncContextManager[Lease]:
        """Waits until the conversation is free, then holds it for the block (current_lease set)."""
        ...

    async def close(self) -> None:
        ...


# The lease of the hold() block the running code is in, so the tracker store and Rasa's lock store
# see it. Tasks created inside the block inherit it (asyncio copies the context): work a turn
# awaits (wait_for, gather) is part of the turn. A task that outlives the block keeps a copy whose
# lease is `ended`: held_lease() ignores it.
current_lease: contextvars.ContextVar[Optional[Lease]] = contextvars.ContextVar("current_lease", default=None)


def held_lease(conversation_id: str) -> Optional[Lease]:
    """The lease this code runs under if it is for `conversation_id` and its block still runs."""
    lease = current_lease.get()
    if lease is None or lease.ended or lease.conversation_id != conversation_id:
        return None
    return lease


@contextmanager
def _current(lease: Lease) -> Iterator[None]:
    reset = current_lease.set(lease)
    try:
        yield
    finally:
        lease.ended = True
        current_lease.reset(reset)


def _now_us() -> int:
    return time.time_ns() // 1000


class _KeyedLocks:
    """An asyncio.Lock per key, dropped as soon as nobody holds or awaits it (no leak per key)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: Counter[str] = Counter()

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] += 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if self._users[key] <= 0:
                del self._users[key]
                self._locks.pop(key, None)

    def __len__(self) -> int:
        return len(self._locks)


class LocalTurnLocks:
    """One process: asyncio locks, FIFO per conversation; a lease is never lost."""

    def __init__(self, owner: Optional[str] = None) -> None:
        self.owner = owner or config.replica_name()
        self._locks = _KeyedLocks()
        self._last_token = 0

    def _next_token(self) -> int:
        """Monotonic in this process and seeded from the clock, so it goes on rising after a restart."""
        self._last_token = max(self._last_token + 1, _now_us())
        return self._last_token

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[Lease]:
        async with self._locks.hold(conversation_id):
            lease = Lease(conversation_id, self._next_token(), self.owner)
            with _current(lease):
                yield lease

    def __len__(self) -> int:
        """Conversations held or awaited now (tests check that nothing is kept afterwards)."""
        return len(self._locks)

    async def close(self) -> None:
        return None


# KEYS[1] lock, KEYS[2] fence counter; ARGV owner, lease ms, fence ttl ms. Returns the token or 0.
# TIME's two strings are joined, not added: Lua numbers would print 1.7e+15 and lose digits.
_ACQUIRE = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
local now = redis.call('TIME')
local floor = now[1] .. string.format('%06d', tonumber(now[2]))
local token = redis.call('INCR', KEYS[2])
if token < tonumber(floor) then
  redis.call('SET', KEYS[2], floor)
  token = tonumber(floor)
end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return token
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class _Connection:
    """A client and its scripts for one event loop (redis.asyncio connections belong to a loop)."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self.client = aioredis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.acquire = self.client.register_script(_ACQUIRE)
        self.renew = self.client.register_script(_RENEW)
        self.release = self.client.register_script(_RELEASE)


class RedisTurnLocks:
    """Replicas sharing Redis: see the module's docstring for the protocol."""

    def __init__(self, url: str, lease_ms: int = DEFAULT_LEASE_MS, prefix: str = "unisono",
                 owner: Optional[str] = None) -> None:
        self.url = url
        self.lease_ms = int(lease_ms)
        self.prefix = prefix
        self.owner = owner or config.replica_name()
        # One poller per conversation per process: the others queue here, in arrival order.
        self._local = _KeyedLocks()
        self._background: set[asyncio.Task] = set()
        self._connections: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Connection] = (
            weakref.WeakKeyDictionary())

    def _conn(self) -> _Connection:
        loop = asyncio.get_running_loop()
        conn = self._connections.get(loop)
        if conn is None:
            conn = self._connections[loop] = _Connection(self.url)
        return conn

    def lock_key(self, conversation_id: str) -> str:
        # The braces keep both keys of a conversation in one Redis Cluster slot (one script).
        return f"{self.prefix}:turn:{{{conversation_id}}}"

    def fence_key(self, conversation_id: str) -> str:
        return f"{self.prefix}:fence:{{{conversation_id}}}"

    def _trusted_for(self) -> float:
        return self.lease_ms / 1000 * (1 - DRIFT_FACTOR) - DRIFT_FLOOR_S

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[Lease]:
        async with self._local.hold(conversation_id):
            lease = await self._acquire(conversation_id)
            renewal = asyncio.get_running_loop().create_task(self._keep(lease))
            try:
                with _current(lease):
                    yield lease
            finally:
                renewal.cancel()
                await self._release(lease)

    async def _acquire(self, conversation_id: str) -> Lease:
        """Polls with short jittered sleeps: one round trip when the conversation is free."""
        owner = f"{self.owner}/{uuid.uuid4().hex[:12]}"  # unique per hold: releases compare it
        keys = [self.lock_key(conversation_id), self.fence_key(conversation_id)]
        wait = FIRST_WAIT_S
        while True:
            sent = time.monotonic()
            try:
                token = await self._conn().acquire(keys=keys, args=[owner, self.lease_ms, FENCE_TTL_MS])
            except BaseException:
                # Cancelled or cut off after Redis may have run the script: free what might be ours
                # rather than leave the conversation blocked for a whole lease.
                self._abandon(keys[0], owner)
                raise
            if token:
                return Lease(conversation_id, int(token), owner, expires_at=sent + self._trusted_for())
            await asyncio.sleep(random.uniform(wait / 2, wait))
            wait = min(wait * 2, MAX_WAIT_S)

    def _abandon(self, key: str, owner: str) -> None:
        async def release() -> None:
            try:
                await self._conn().release(keys=[key], args=[owner])
            except Exception:  # noqa: BLE001 - then it expires on its own
                logger.warning("could not free an abandoned acquisition of %s", key, exc_info=True)

        task = asyncio.get_running_loop().create_task(release())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _keep(self, lease: Lease) -> None:
        """Renews every third of the lease; Redis saying no (expired, taken) loses it at once,
        Redis unreachable loses it when the deadline passes (the next renewal may still succeed)."""
        key = self.lock_key(lease.conversation_id)
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            if lease.lost:
                logger.warning("lease %s on %s expired before its renewal", lease.token, lease.conversation_id)
                return
            sent = time.monotonic()
            try:
                kept = await self._conn().renew(keys=[key], args=[lease.owner, self.lease_ms])
            except Exception:  # noqa: BLE001 - Redis unreachable: try again, the deadline decides
                logger.warning("could not renew lease %s on %s", lease.token, lease.conversation_id, exc_info=True)
                continue
            if not kept:
                lease.mark_lost()
                logger.warning("lease %s on %s was lost (expired in Redis)", lease.token, lease.conversation_id)
                return
            lease.expires_at = sent + self._trusted_for()

    async def _release(self, lease: Lease) -> None:
        """Compare-and-delete, shielded from the holder's cancellation; a failure only leaves the
        lock to expire on its own."""
        try:
            released = await asyncio.shield(
                self._conn().release(keys=[self.lock_key(lease.conversation_id)], args=[lease.owner]))
        except Exception:  # noqa: BLE001 - the lease expires by itself; the turn's outcome stands
            logger.warning("could not release lease %s on %s", lease.token, lease.conversation_id, exc_info=True)
            return
        if not released:
            lease.mark_lost()
            logger.warning("lease %s on %s had already been lost at release", lease.token, lease.conversation_id)

    async def close(self) -> None:
        """Closes the client of the running loop (clients of finished loops went with them)."""
        conn = self._connections.pop(asyncio.get_running_loop(), None)
        if conn is not None:
            await conn.client.close()


def turn_locks_from_env() -> TurnLocks:
    """RedisTurnLocks when REDIS_URL is set (replicas), else LocalTurnLocks (one process)."""
    url = (config.get("REDIS_URL") or "").strip()
    if url:
        return RedisTurnLocks(url)
    return LocalTurnLocks()


@lru_cache(maxsize=1)
def get_turn_locks() -> TurnLocks:
    """The process's one instance (`get_turn_locks.cache_clear()` forgets it, for tests)."""
    return turn_locks_from_env()


