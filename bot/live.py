"""Live wake-ups: "a public message was stored in conversation X (id N)", told to every replica.

A browser's server-sent-events stream is open on one replica while its conversation's replies may
be stored on another. The store stays the source of truth: a wake-up carries no message, it only
tells a stream "read the store after your last id now" (sooner than its heartbeat would). So a lost
wake-up delays a message, it never loses one, and a stream that resumes on another replica with
`after=<id>` reads whatever it missed.

`LocalBus` is one process (`make run`). `RedisBus` broadcasts over Redis pub/sub: one channel,
`<REDIS_PREFIX>:live`, carrying `conversation_id:message_id:origin`, and one subscriber connection
per process that wakes the local subscribers of that conversation. Redis rather than PostgreSQL
LISTEN/NOTIFY (which would do as well) because REDIS_URL is required for replicas anyway (the
conversation lock lives there), and a pub/sub connection does not hold a database connection.
While Redis is away the subscriber reconnects with backoff and wakes every local subscriber
periodically, so streams keep re-reading the store; after it reconnects it wakes them once more,
for what was published during the gap.

The channel name is per deployment (REDIS_PREFIX, default "unisono"), so tests running at once on
one Redis stay apart. One bus per process: `live_bus_from_env()`.
"""
from __future__ import annotations
import asyncio
import logging
import uuid
from collections import defaultdict
from typing import Any, Optional

from redis import asyncio as aioredis

from bot import config

logger = logging.getLogger(__name__)

RESYNC = 0  # a wake-up without a message id: re-read the store (reconnected, or Redis away)
QUEUE_SIZE = 100  # wake-ups a stream has not read yet; more are dropped, the store has them all


class LocalBus:
    """Wake-ups within one process: the subscribers of a conversation get the stored message ids."""

    def __init__(self) -> None:
        self._queues: defaultdict[str, set[asyncio.Queue]] = defaultdict(set)
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    async def start(self) -> None:
        """Binds the bus to the running loop (publish may then be called from other threads)."""
        self._loop = asyncio.get_running_loop()

    async def close(self) -> None:
        """Nothing to release in one process."""

    @property
    def connected(self) -> bool:
        """Whether wake-ups reach the other replicas (one process: there are none to reach)."""
        return True

    def subscribe(self, conversation_id: str) -> asyncio.Queue:
        """A queue that receives the ids of messages stored in the conversation (or RESYNC)."""
        queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._queues[conversation_id].add(queue)
        return queue

    def unsubscribe(self, conversation_id: str, queue: asyncio.Queue) -> None:
        self._queues[conversation_id].discard(queue)
        if not self._queues[conversation_id]:
            self._queues.pop(conversation_id, None)

    def subscribers(self, conversation_id: Optional[str] = None) -> int:
        """How many queues are subscribed (to one conversation, or to any)."""
        if conversation_id is not None:
            return len(self._queues.get(conversation_id, ()))
        return sum(len(queues) for queues in self._queues.values())

    def publish(self, conversation_id: str, message_id: int) -> None:
        """Called by the hub after it stored a public message; safe from any thread."""
        self._on_loop(self._deliver, conversation_id, message_id)

    # -- within the process -------------------------------------------------------------------
    def _on_loop(self, fn: Any, *args: Any) -> None:
        """Runs `fn` now when on the bus's loop (or before it started), else soon on that loop."""
        loop = self._loop
        if loop is None or loop.is_closed() or _running_loop() is loop:
            fn(*args)
        else:
            loop.call_soon_threadsafe(fn, *args)

    def _deliver(self, conversation_id: str, message_id: int) -> None:
        for queue in list(self._queues.get(conversation_id, ())):
            _put(queue, message_id)

    def _wake_all(self) -> None:
        """Every subscriber re-reads the store (wake-ups may have been missed)."""
        for queues in list(self._queues.values()):
            for queue in list(queues):
                _put(queue, RESYNC)


def _running_loop() -> Optional[asyncio.AbstractEventLoop]:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _put(queue: asyncio.Queue, message_id: int) -> None:
    try:
        queue.put_nowait(message_id)
    except asyncio.QueueFull:  # it has wake-ups it did not read yet: one more adds nothing
        pass


class RedisBus(LocalBus):
    """Wake-ups across replicas over Redis pub/sub; local subscribers are woken at once as well."""

    def __init__(self, url: str, prefix: str = "unisono", resync_seconds: float = 1.0,
                 max_backoff: float = 5.0) -> None:
        super().__init__()
        self.url = url
        self.channel = f"{prefix}:live"
        self.origin = uuid.uuid4().hex  # this process's bus: its own broadcasts come back, skipped
        # Its subscriber connection's name in CLIENT LIST: which replica follows the channel.
        self.client_name = f"{prefix}-live-{config.replica_name()}-{self.origin[:8]}".replace(" ", "_")
        self.resync_seconds = resync_seconds
        self.max_backoff = max_backoff
        self._connected = False
        self._publisher: Any = None
        self._listener: Optional[asyncio.Task] = None
        self._sending: set[asyncio.Task] = set()
        self._failures = 0
        self._lost_logged = False

    @property
    def connected(self) -> bool:
        """Whether the subscriber connection is up (/health may report it)."""
        return self._connected

    async def start(self) -> None:
        """Opens the publishing client and starts the subscriber loop (idempotent)."""
        if self._listener is not None:
            return
        await super().start()
        self._publisher = aioredis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)
        self._listener = asyncio.get_running_loop().create_task(self._listen(), name="live-bus")

    async def close(self) -> None:
        """Stops the subscriber loop and closes the connections."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=2)
        if self._publisher is not None:
            await self._publisher.close()
            await self._publisher.connection_pool.disconnect()
            self._publisher = None
        self._connected = False

    def publish(self, conversation_id: str, message_id: int) -> None:
        """Wakes local subscribers now and schedules the PUBLISH for the other replicas."""
        self._on_loop(self._publish_on_loop, conversation_id, message_id)

    def _publish_on_loop(self, conversation_id: str, message_id: int) -> None:
        self._deliver(conversation_id, message_id)
        if self._publisher is None or self._loop is None:
            return  # not started (a test's hub, a script): one process, nothing to tell
        payload = f"{conversation_id}:{message_id}:{self.origin}"
        task = self._loop.create_task(self._send(payload))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, payload: str) -> None:
        try:
            await self._publisher.publish(self.channel, payload)
            self._failures = 0
        except Exception as error:  # noqa: BLE001 - other replicas catch up from the store
            self._failures += 1
            if self._failures == 1 or self._failures % 100 == 0:
                logger.warning("live bus: PUBLISH failed (%s, %d in a row); other replicas' streams "
                               "catch up from the store", type(error).__name__, self._failures)

    # -- the subscriber loop ------------------------------------------------------------------
    async def _listen(self) -> None:
        """Follows the channel for the life of the process, reconnecting with backoff."""
        backoff = 0.1
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - Redis away: retry, streams poll the store
                if self._connected:
                    backoff, self._lost_logged = 0.1, False
                level = logging.DEBUG if self._lost_logged else logging.WARNING
                logger.log(level, "live bus: Redis unreachable (%s); reconnecting, streams re-read the "
                           "store every %g s meanwhile", type(error).__name__, self.resync_seconds)
                self._lost_logged = True
            self._connected = False
            self._wake_all()
            await self._pause(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    async def _follow(self) -> None:
        """One subscriber connection: subscribe, wake everyone once, then dispatch until it fails."""
        client = aioredis.from_url(self.url, socket_connect_timeout=2, socket_keepalive=True,
                                   health_check_interval=10, client_name=self.client_name)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
            self._connected = True
            logger.info("live bus: following %s", self.channel)
            self._wake_all()  # what was published while we were away is in the store
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=self.resync_seconds)
                if message is not None and message.get("type") == "message":
                    self._received(message["data"])
        finally:
            await _quietly(pubsub.close())
            await _quietly(client.close())
            await _quietly(client.connection_pool.disconnect())

    def _received(self, data: Any) -> None:
        text = data.decode() if isinstance(data, bytes) else str(data)
        head, _, origin = text.rpartition(":")
        conversation_id, _, number = head.rpartition(":")
        if origin == self.origin:
            return  # our own broadcast: local subscribers were woken when it was published
        try:
            self._deliver(conversation_id, int(number))
        except ValueError:
            logger.warning("live bus: ignored a malformed wake-up on %s", self.channel)

    async def _pause(self, seconds: float) -> None:
        """Waits before reconnecting, waking every subscriber every `resync_seconds` meanwhile."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            await asyncio.sleep(min(left, self.resync_seconds))
            self._wake_all()


async def _quietly(awaitable: Any) -> None:
    try:
        await awaitable
    except Exception:  # noqa: BLE001 - closing a connection that already broke
        pass


_bus: Optional[LocalBus] = None


def live_bus_from_env() -> LocalBus:
    """The process's bus: Redis when REDIS_URL is set (replicas), else one process's own."""
    global _bus
    if _bus is None:
        url = (config.get("REDIS_URL") or "").strip()
        prefix = (config.get("REDIS_PREFIX") or "").strip() or "unisono"
        _bus = RedisBus(url, prefix) if url else LocalBus()
    return _bus
