"""Rate limits (bot/throttle.py): in one process with an injected clock, and shared by replicas in Redis."""
from __future__ import annotations

import pytest

from bot.throttle import Limit, LocalLimiter, RedisLimiter, ip_key, retry_after

PER_MINUTE = Limit("test-messages", 3, 60)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_hit_past_the_limit_waits_until_the_window_ends() -> None:
    clock = Clock()
    limiter = LocalLimiter(clock)
    assert [await limiter.hit(PER_MINUTE, "1.2.3.4") for _ in range(3)] == [None, None, None]
    clock.now += 20
    assert await limiter.hit(PER_MINUTE, "1.2.3.4") == pytest.approx(40)  # the window began at the first hit
    assert await limiter.hit(PER_MINUTE, "5.6.7.8") is None  # another key: its own count
    clock.now += 40
    assert await limiter.hit(PER_MINUTE, "1.2.3.4") is None  # a new window


async def test_a_limit_of_zero_is_off() -> None:
    limiter = LocalLimiter(Clock())
    assert all([await limiter.hit(Limit("off", 0, 60), "k") is None for _ in range(100)])


async def test_limits_are_counted_apart() -> None:
    limiter = LocalLimiter(Clock())
    for _ in range(3):
        await limiter.hit(PER_MINUTE, "k")
    assert await limiter.hit(Limit("test-sessions", 3, 60), "k") is None


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert [retry_after(s) for s in (0.0, 0.2, 1.0, 59.1)] == ["1", "1", "1", "60"]


def test_an_ipv6_client_counts_under_its_64() -> None:
    assert ip_key("2001:db8:1:2:aaaa::1") == ip_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert ip_key("2001:db8:1:3::1") != ip_key("2001:db8:1:2::1")
    assert ip_key("::ffff:192.0.2.7") == "192.0.2.7" and ip_key("192.0.2.7") == "192.0.2.7"


async def test_replicas_share_the_count_in_redis(redis_url: str, prefix: str) -> None:
    one, other = RedisLimiter(redis_url, prefix), RedisLimiter(redis_url, prefix)  # two replicas
    try:
        assert [await one.hit(PER_MINUTE, "1.2.3.4"), await other.hit(PER_MINUTE, "1.2.3.4"),
                await one.hit(PER_MINUTE, "1.2.3.4")] == [None, None, None]
        wait = await other.hit(PER_MINUTE, "1.2.3.4")
        assert wait is not None and 59 < wait <= 60
        assert await other.hit(PER_MINUTE, "5.6.7.8") is None
    finally:
        await one.close()
        await other.close()


async def test_redis_unreachable_lets_requests_through() -> None:
    limiter = RedisLimiter("redis://127.0.0.1:1/0", "unreachable")
    assert [await limiter.hit(Limit("tight", 1, 60), "k") for _ in range(3)] == [None, None, None]
