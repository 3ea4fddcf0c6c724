"""Engine, sessions and the declarative `Base` shared by the conversation store and the demo backend.

SQLAlchemy 1.4 in 2.0 style (`future=True`), because Rasa pins 1.4. The same code runs on the
embedded SQLite file (the default) and on PostgreSQL, chosen by `bot.config.database_url()`.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, TypeVar

from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.engine import create_engine as _create_engine
from sqlalchemy.orm import Session, declarative_base, sessionmaker
from sqlalchemy.pool import QueuePool, StaticPool
from sqlalchemy.types import DateTime, TypeDecorator

from bot import config

# Explicit constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Base = declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))

SQLITE_BUSY_TIMEOUT_MS = 5000
# Threads that run store calls for a database server (see `call`); fewer than the engine's pool.
SERVER_STORE_THREADS = 4

T = TypeVar("T")


def utcnow() -> dt.datetime:
    """The current time as an aware UTC datetime (the only kind the store accepts)."""
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, returns aware UTC: identical on SQLite (no time zones) and PostgreSQL.

    Naive datetimes are refused: guessing their zone is how timestamps silently drift.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Optional[dt.datetime], dialect: Any) -> Optional[dt.datetime]:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime refused: use an aware UTC datetime (bot.db.utcnow())")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: Optional[dt.datetime], dialect: Any) -> Optional[dt.datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


_engines: dict[str, Engine] = {}
_factories: dict[str, sessionmaker] = {}
_lock = threading.Lock()


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run while one writer writes; SQLite leaves foreign keys off unless asked."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        # With WAL, NORMAL keeps the database consistent on a crash and skips one fsync per commit;
        # a committed transaction can only be lost to a power cut, not to a process dying.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _build_engine(url: str) -> Engine:
    # hide_parameters (reliability fix, tests/reliability/test_privacy_logs.py): a database error's
    # text would otherwise carry the statement's values (messages, phones, emails) into the logs.
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        kwargs: dict[str, Any] = {}
        if parsed.database in (None, "", ":memory:"):
            # One shared connection, or every checkout would see a different empty database.
            kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
        else:
            # SQLAlchemy 1.4 opens a new connection per session for SQLite files (NullPool), and the
            # last connection to close checkpoints the WAL: ~20 ms per write. Keep connections open.
            kwargs = {"poolclass": QueuePool, "pool_size": 5, "max_overflow": 10,
                      "connect_args": {"check_same_thread": False}}
        engine = _create_engine(url, future=True, hide_parameters=True, **kwargs)
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    return _create_engine(url, future=True, pool_pre_ping=True, hide_parameters=True)


def get_engine(url: Optional[str] = None) -> Engine:
    """The engine for `url` (default: the configured database), created once per URL."""
    url = url or config.database_url()
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = _build_engine(url)
        return engine


def session_factory(url: Optional[str] = None) -> sessionmaker:
    """A 2.0-style session factory bound to `url`; objects stay readable after commit."""
    url = url or config.database_url()
    engine = get_engine(url)
    with _lock:
        factory = _factories.get(url)
        if factory is None:
            factory = _factories[url] = sessionmaker(bind=engine, future=True, expire_on_commit=False)
        return factory


@contextmanager
def session_scope(url: Optional[str] = None) -> Iterator[Session]:
    """One unit of work: commits when the block ends, rolls back if it raises."""
    session: Session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dispose(url: Optional[str] = None) -> None:
    """Closes and forgets the engine of `url`, or every engine when `url` is None (tests, shutdown)."""
    with _lock:
        urls = [url] if url is not None else list(_engines)
        for key in urls:
            _factories.pop(key, None)
            engine = _engines.pop(key, None)
            if engine is not None:
                engine.dispose()


_executor: Optional[ThreadPoolExecutor] = None


@functools.lru_cache(maxsize=8)
def _is_server(url: str) -> bool:
    return make_url(url).get_backend_name() != "sqlite"


def _store_threads() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=SERVER_STORE_THREADS, thread_name_prefix="store")
        return _executor


async def call(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Runs a blocking store function from async code without stalling the event loop on a server.

    On a database server (PostgreSQL) each transaction waits on the network several times, and
    every message of every conversation waited with it while the event loop was blocked: on
    PostgreSQL at 50 concurrent conversations we served 0.73x plain Rasa's throughput (bench,
    2026-12-02). There the call runs on a few store threads. On SQLite, in-process and answering
    in microseconds, it runs in place: a thread hop would cost more than it frees.
    """
    if not _is_server(config.database_url()):
        return fn(*args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_store_threads(), functools.partial(fn, *args, **kwargs))
