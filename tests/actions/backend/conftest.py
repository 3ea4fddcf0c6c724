"""Databases for the SQL backend tests: a temp SQLite file, and PostgreSQL at 127.0.0.1:5432/test.

Each PostgreSQL database is a throw-away schema (selected with search_path), dropped afterwards.
If PostgreSQL is unreachable its tests fail, unless UNISONO_SKIP_PG=1 says to skip them.
UNISONO_TEST_PG_URL overrides the server URL.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from actions.backend import demo
from tests.helpers import temporary_database

KINDS = ("sqlite", "postgresql")


@pytest.fixture(scope="module", params=KINDS)
def seeded_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated and seeded database per module and kind, for tests that only read."""
    with temporary_database(request.param, tmp_path_factory.mktemp("db")) as url:
        assert demo.seed(url) is True
        yield url


@pytest.fixture(params=KINDS)
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, unseeded database of its own, for tests that write."""
    with temporary_database(request.param, tmp_path) as url:
        yield url
