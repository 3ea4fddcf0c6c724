"""Tickets that open a web chat's live stream (server-sent events): short-lived and single use.

A browser's EventSource cannot send headers, so the stream's credential has to travel in its URL,
and URLs are what proxies, balancers and servers log. The session token (valid for weeks) must
never be there: the widget trades it, in an Authorization header, for a ticket that opens one
stream within TTL_SECONDS, once. A ticket found in a log is already spent or about to expire.

Redeeming is atomic wherever the ticket was issued: in Redis (REDIS_URL set: any replica may
issue, any other redeem) one script reads and deletes it; without Redis, in the database, where
of two concurrent redemptions only one deletes the row. Only a hash of the ticket is stored. The
expiry is checked against `clock` (Unix seconds; tests give their own), not only left to Redis's
key expiry or to the sweep of old rows, so both stores answer alike.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from typing import Callable, Optional, Protocol

from sqlalchemy import delete

from bot import config, db
from bot.db import session_scope
from bot.redis_clients import LoopClients
from bot.store.models import StreamTicket

TTL_SECONDS = 60.0


class Tickets(Protocol):
    ttl: float

    async def issue(self, address: str) -> str:
        """A new ticket for the stream of session `address`."""

    async def redeem(self, ticket: Optional[str]) -> Optional[str]:
        """The session address of a live, unused ticket, which is now used; else None."""


def _hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def _new_ticket() -> str:
    return "t" + secrets.token_urlsafe(24)


def _usable(ticket: Optional[str]) -> bool:
    return bool(ticket) and len(ticket) <= 100  # type: ignore[arg-type]


class DatabaseTickets:
    """Tickets in `stream_tickets` (one process, or replicas without Redis); `url`: the store's
    database unless given (tests)."""

    def __init__(self, clock: Callable[[], float] = time.time, ttl: float = TTL_SECONDS,
                 url: Optional[str] = None) -> None:
        self.clock, self.ttl, self.url = clock, ttl, url

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.timezone.utc)

    async def issue(self, address: str) -> str:
        ticket = _new_ticket()
        await db.call(self._store, _hash(ticket), address, self._now())
        return ticket

    def _store(self, digest: str, address: str, now: dt.datetime) -> None:
        with session_scope(self.url) as session:
            session.execute(delete(StreamTicket).where(StreamTicket.expires_at <= now))  # the sweep
            session.add(StreamTicket(ticket_hash=digest, address=address,
                                     expires_at=now + dt.timedelta(seconds=self.ttl)))

    async def redeem(self, ticket: Optional[str]) -> Optional[str]:
        if not _usable(ticket):
            return None
        return await db.call(self._take, _hash(ticket), self._now())  # type: ignore[arg-type]

    def _take(self, digest: str, now: dt.datetime) -> Optional[str]:
        with session_scope(self.url) as session:
            row = session.get(StreamTicket, digest)
            if row is None:
                return None
            address, expires_at = row.address, row.expires_at
            taken = session.execute(delete(StreamTicket).where(StreamTicket.ticket_hash == digest)).rowcount
        return address if taken == 1 and now < expires_at else None


_TAKE = """
local value = redis.call('GET', KEYS[1])
if value then redis.call('DEL', KEYS[1]) end
return value
"""


class RedisTickets:
    """Tickets in Redis, `<prefix>:stream-ticket:<hash>` = `<expires at, ms>|<address>`."""

    def __init__(self, url: str, prefix: str = "unisono", clock: Callable[[], float] = time.time,
                 ttl: float = TTL_SECONDS) -> None:
        self.prefix, self.clock, self.ttl = prefix, clock, ttl
        self._clients = LoopClients(url)

    def key(self, digest: str) -> str:
        return f"{self.prefix}:stream-ticket:{digest}"

    async def issue(self, address: str) -> str:
        ticket = _new_ticket()
        expires_ms = int((self.clock() + self.ttl) * 1000)
        await self._clients.get().set(self.key(_hash(ticket)), f"{expires_ms}|{address}", px=int(self.ttl * 1000))
        return ticket

    async def redeem(self, ticket: Optional[str]) -> Optional[str]:
        if not _usable(ticket):
            return None
        value = await self._clients.get().eval(_TAKE, 1, self.key(_hash(ticket)))  # type: ignore[arg-type]
        if value is None:
            return None
        expires_ms, _, address = (value.decode() if isinstance(value, bytes) else str(value)).partition("|")
        return address if self.clock() * 1000 < int(expires_ms) else None

    async def close(self) -> None:
        await self._clients.close()


def tickets_from_env() -> Tickets:
    """Redis when REDIS_URL is set (a ticket issued by one replica opens a stream on another),
    else the database."""
    url = (config.get("REDIS_URL") or "").strip()
    if url:
        return RedisTickets(url, (config.get("REDIS_PREFIX") or "").strip() or "unisono")
    return DatabaseTickets()
