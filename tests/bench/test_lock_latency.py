"""bench.lock_latency times the turn lock on real Redis and leaves none of its keys behind."""
from __future__ import annotations

import uuid

import redis

from bench.lock_latency import measure
from tests.helpers_redis import redis_url_or_skip


async def test_reports_milliseconds_and_cleans_up() -> None:
    url = redis_url_or_skip()
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    result = await measure(url, turns=40, prefix=prefix)
    assert result["turns"] == 40
    for part in ("local", "redis_ping", "redis"):
        assert 0 < result[part]["p50_ms"] <= result[part]["p95_ms"]
    assert result["redis"]["p50_ms"] >= result["redis_ping"]["p50_ms"]  # at least one round trip
    client = redis.Redis.from_url(url)
    try:
        assert not list(client.scan_iter(match=f"{prefix}:*"))
    finally:
        client.close()
