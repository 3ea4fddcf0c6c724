"""Fresh, migrated and seeded databases for one bench run, removed afterwards."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bot import db
from ops import migrate, seed

BENCH_DATABASE = "unisono_bench"
PG_CANDIDATES = (
    "postgresql://postgres@127.0.0.1:5432/test",
    "postgresql://root@127.0.0.1:5432/test",
    "postgresql://postgres@127.0.0.1:5432/postgres",
)


class Unavailable(RuntimeError):
    """No PostgreSQL server we may create a database on."""


def prepare(url: str) -> str:
    migrate.upgrade(url)
    seed.seed(url)
    db.dispose(url)
    return url


@contextmanager
def sqlite_database(directory: Path) -> Iterator[str]:
    path = directory / "bench.db"
    for leftover in directory.glob("bench.db*"):
        leftover.unlink()
    url = prepare(f"sqlite:///{path}")
    try:
        yield url
    finally:
        db.dispose(url)


def _server() -> tuple[str, str]:
    configured = os.environ.get("UNISONO_BENCH_PG_URL")
    errors = []
    for url in [configured] if configured else PG_CANDIDATES:
        engine = create_engine(url, future=True, connect_args={"connect_timeout": 3})
        try:
            with engine.connect():
                return url, ""
        except DBAPIError as error:
            errors.append(f"{make_url(url).render_as_string(hide_password=True)}: {str(error.orig).strip()}")
        finally:
            engine.dispose()
    return "", "; ".join(errors)


@contextmanager
def postgres_database(name: str = BENCH_DATABASE) -> Iterator[str]:
    """A new database `name` on the first reachable server (UNISONO_BENCH_PG_URL wins)."""
    server, why = _server()
    if not server:
        raise Unavailable(why)
    admin = create_engine(server, future=True, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except DBAPIError as error:
        admin.dispose()
        raise Unavailable(f"cannot create database {name}: {str(error.orig).strip()}") from error
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        yield prepare(url)
    finally:
        db.dispose(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
