"""Databases for the SQL backend tests: a temp SQLite file, and PostgreSQL at 127.0.0.1:5432/test.

Each PostgreSQL database is a throw-away schema (selected with search_path), dropped afterwards.
If PostgreSQL is unreachable its tests fail, unless UNISONO_SKIP_PG=1 says to skip them.
UNISONO_TEST_PG_URL overrides the server URL.
"""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from bot import db, migrate, seed

KINDS = ("sqlite", "postgresql")
PG_CANDIDATES = (
    "postgresql://postgres@127.0.0.1:5432/test",
    "postgresql://root@127.0.0.1:5432/test",
)


def _reachable_pg() -> tuple[str | None, str]:
    configured = os.environ.get("UNISONO_TEST_PG_URL")
    errors = []
    for url in [configured] if configured else PG_CANDIDATES:
        engine = create_engine(url, future=True, connect_args={"connect_timeout": 3})
        try:
            with engine.connect():
                return url, ""
        except OperationalError as exc:
            errors.append(f"{url}: {str(exc.orig).strip()}")
        finally:
            engine.dispose()
    return None, "; ".join(errors)


@contextmanager
def temporary_database(kind: str, directory: Path) -> Iterator[str]:
    """A migrated, empty database of `kind`; removed on exit."""
    if kind == "sqlite":
        url = f"sqlite:///{directory / f'{uuid.uuid4().hex}.db'}"
        migrate.upgrade(url)
        try:
            yield url
        finally:
            db.dispose(url)
        return
    server, why = _reachable_pg()
    if server is None:
        if os.environ.get("UNISONO_SKIP_PG") == "1":
            pytest.skip(f"PostgreSQL unreachable and UNISONO_SKIP_PG=1 ({why})")
        pytest.fail(
            "PostgreSQL is not reachable at 127.0.0.1:5432, database 'test' "
            f"({why}). Start it, point UNISONO_TEST_PG_URL at one, or set UNISONO_SKIP_PG=1.",
            pytrace=False,
        )
    schema = f"unisono_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, future=True)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{server}?options=-csearch_path%3D{schema}"
    try:
        migrate.upgrade(url)
        yield url
    finally:
        db.dispose(url)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module", params=KINDS)
def seeded_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated and seeded database per module and kind, for tests that only read."""
    with temporary_database(request.param, tmp_path_factory.mktemp("db")) as url:
        assert seed.seed(url) is True
        yield url


@pytest.fixture(params=KINDS)
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, unseeded database of its own, for tests that write."""
    with temporary_database(request.param, tmp_path) as url:
        yield url
