"""The live stream's tickets (bot/stream_tickets.py): single use, short-lived, stored hashed, in the
database (SQLite and PostgreSQL) and in Redis. The clock is injected: nothing waits."""
from __future__ import annotations

import asyncio
from typing import AsyncIterator, Iterator

import pytest
import redis
from sqlalchemy import select

from bot.db import session_scope
from bot.store.models import StreamTicket
from bot.stream_tickets import TTL_SECONDS, DatabaseTickets, RedisTickets
from tests.helpers import temporary_database


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with temporary_database("sqlite", tmp_path_factory.mktemp("tickets")) as url:
        yield url


@pytest.fixture(scope="module")
def postgresql_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with temporary_database("postgresql", tmp_path_factory.mktemp("tickets")) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[tuple]:
    clock = Clock()
    if request.param != "redis":
        yield DatabaseTickets(clock, url=request.getfixturevalue(f"{request.param}_database")), clock
        return
    url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("prefix")
    tickets = RedisTickets(url, prefix, clock)
    yield tickets, clock
    await tickets.close()


async def test_a_ticket_opens_its_session_once(store) -> None:
    tickets, _ = store
    ticket = await tickets.issue("wSession1")
    assert await tickets.redeem(ticket) == "wSession1"
    assert await tickets.redeem(ticket) is None  # replayed (a proxy's log, a second tab): refused


async def test_a_ticket_is_worthless_after_its_ttl(store) -> None:
    tickets, clock = store
    assert tickets.ttl == TTL_SECONDS == 60
    late, in_time = await tickets.issue("wSession2"), await tickets.issue("wSession2")
    clock.now += TTL_SECONDS - 1
    assert await tickets.redeem(in_time) == "wSession2"
    clock.now += 1
    assert await tickets.redeem(late) is None
    assert await tickets.redeem(late) is None


@pytest.mark.parametrize("ticket", [None, "", "t-never-issued", "x" * 5000])
async def test_no_ticket_or_a_made_up_one_opens_nothing(store, ticket) -> None:
    assert await store[0].redeem(ticket) is None


async def test_of_concurrent_redemptions_one_wins(store) -> None:
    tickets, _ = store
    ticket = await tickets.issue("wSession3")
    results = await asyncio.gather(*[tickets.redeem(ticket) for _ in range(6)])
    assert sorted(results, key=str) == [None] * 5 + ["wSession3"]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_the_database_keeps_a_hash_and_sweeps_expired_rows(request: pytest.FixtureRequest, kind: str) -> None:
    database = request.getfixturevalue(f"{kind}_database")
    clock = Clock()
    tickets = DatabaseTickets(clock, url=database)
    old = await tickets.issue("wOld")
    clock.now += TTL_SECONDS + 1
    fresh = await tickets.issue("wFresh")  # issuing sweeps what expired
    with session_scope(database) as session:
        rows = session.execute(select(StreamTicket.ticket_hash, StreamTicket.address)).all()
    assert [address for _, address in rows] == ["wFresh"]
    assert fresh not in {digest for digest, _ in rows} and len(rows[0][0]) == 64
    assert await tickets.redeem(old) is None


async def test_redis_keeps_a_ticket_no_longer_than_its_ttl(redis_url: str, prefix: str) -> None:
    tickets = RedisTickets(redis_url, prefix)
    try:
        await tickets.issue("wSession4")
    finally:
        await tickets.close()
    client = redis.Redis.from_url(redis_url)
    try:
        [key] = list(client.scan_iter(match=f"{prefix}:stream-ticket:*"))
        assert 0 < client.pttl(key) <= TTL_SECONDS * 1000  # Redis drops it even if nobody redeems it
        assert b"wSession4" in client.get(key) and len(key.rsplit(b":", 1)[1]) == 64  # hashed name
    finally:
        client.close()
