"""Redis for tests: 127.0.0.1:6379/0 (UNISONO_TEST_REDIS_URL overrides). Unreachable, its tests skip
with the reason. Each test works under its own key prefix and deletes its keys afterwards: several
people run tests on this machine at once."""
from __future__ import annotations

import os
import uuid
from typing import Iterator

import pytest

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_url_or_skip() -> str:
    """The test Redis's URL, or a skip saying why there is none."""
    import redis

    url = os.environ.get("UNISONO_TEST_REDIS_URL") or DEFAULT_REDIS_URL
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis not reachable at {url} ({exc}); start redis-server or set UNISONO_TEST_REDIS_URL")
    finally:
        client.close()
    return url


def unique_prefix(url: str) -> Iterator[str]:
    """A fresh key prefix; every key under it is deleted when the test ends (use with yield from)."""
    import redis

    prefix = f"test-{uuid.uuid4().hex[:10]}"
    yield prefix
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
