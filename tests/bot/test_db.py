"""bot.db.call: store calls from async code run in place on SQLite, off the event loop on PostgreSQL."""
from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from bot import db
from tests.helpers import temporary_database


async def _ticks_during(fn, *args) -> tuple[object, int, int]:
    """Runs db.call(fn) while a 10 ms ticker runs; returns (result, ticks, thread id of fn)."""
    ticks = 0
    ran_on: list[int] = []

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    def recorded(*inner):
        ran_on.append(threading.get_ident())
        return fn(*inner)

    task = asyncio.get_running_loop().create_task(ticker())
    await asyncio.sleep(0)  # let the ticker start
    try:
        result = await db.call(recorded, *args)
    finally:
        task.cancel()
    return result, ticks, ran_on[0]


def _sleep_in_database(url: str, seconds: float) -> float:
    with db.session_scope(url) as session:
        if url.startswith("sqlite"):
            import time

            time.sleep(seconds)  # SQLite has no sleep; the call's own time stands in for it
            return session.execute(text("SELECT 1")).scalar_one()
        return session.execute(text(f"SELECT 1 FROM pg_sleep({seconds})")).scalar_one()


async def test_on_sqlite_a_store_call_runs_in_place(tmp_path: Path, monkeypatch) -> None:
    with temporary_database("sqlite", tmp_path) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        result, ticks, thread = await _ticks_during(_sleep_in_database, url, 0.2)
    assert result == 1
    assert thread == threading.get_ident()
    assert ticks == 0  # in place: nothing else ran meanwhile, as before db.call existed


async def test_on_postgresql_the_event_loop_keeps_serving_during_a_store_call(tmp_path: Path, monkeypatch) -> None:
    with temporary_database("postgresql", tmp_path) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        result, ticks, thread = await _ticks_during(_sleep_in_database, url, 0.3)
    assert result == 1
    assert thread != threading.get_ident()
    # 0.3 s of waiting on the server: a 10 ms ticker gets most of its ~30 turns (it got none
    # when the call blocked the loop).
    assert ticks >= 15


async def test_a_store_error_reaches_the_caller_from_the_store_thread(tmp_path: Path, monkeypatch) -> None:
    with temporary_database("postgresql", tmp_path) as url:
        monkeypatch.setenv("DATABASE_URL", url)

        def broken() -> None:
            with db.session_scope(url) as session:
                session.execute(text("SELECT * FROM no_such_table"))

        with pytest.raises(Exception, match="no_such_table"):
            await db.call(broken)
