"""Fixtures the core's Redis-backed tests share (turn locks, Rasa's lock store)."""
from __future__ import annotations

from typing import Iterator

import pytest

from tests.helpers_redis import redis_url_or_skip, unique_prefix


@pytest.fixture(scope="module")
def redis_url() -> str:
    return redis_url_or_skip()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    yield from unique_prefix(redis_url)
