"""A redis.asyncio client per event loop: its connections belong to the loop that opened them.

The server has one loop, tests open several; each gets its own client, dropped with its loop.
"""
from __future__ import annotations

import asyncio
import weakref
from typing import Any


class LoopClients:
    """`get()` is the running loop's client for `url`, made on first use."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    def get(self) -> Any:
        from redis import asyncio as aioredis

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = aioredis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)
        return client

    async def close(self) -> None:
        """Closes the running loop's client (the others went with their loops)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()
            await client.connection_pool.disconnect()
