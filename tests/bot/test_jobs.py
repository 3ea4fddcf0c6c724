"""bot/jobs.py: durable work claimed by one replica at a time, on PostgreSQL (the replicas'
database, where claims use FOR UPDATE SKIP LOCKED) and on the embedded SQLite file."""
from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import select

from bot import config, db, jobs
from bot.db import session_scope, utcnow
from bot.store.models import Job
from tests.helpers import temporary_database


@pytest.fixture(params=["postgresql", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The configured database is a fresh one of each kind for the test."""
    with temporary_database(request.param, tmp_path) as url:
        monkeypatch.setenv("DATABASE_URL", url)
        config.reload()
        yield request.param
        db.dispose(url)
    config.reload()


def kind() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


def add_many(work: str, count: int) -> set[int]:
    with session_scope() as session:
        return {jobs.add(session, work, str(i)) for i in range(count)}


def row(job_id: int) -> Job:
    with session_scope() as session:
        return session.get(Job, job_id)


def test_two_replicas_claiming_at_once_never_take_the_same_job(store: str) -> None:
    work = kind()
    every = add_many(work, 200)
    taken: dict[str, list[int]] = {"a": [], "b": []}
    barrier = threading.Barrier(2)

    def replica(owner: str) -> None:
        barrier.wait()
        while found := jobs.claim([work], owner, limit=7):
            taken[owner].extend(job.id for job in found)

    threads = [threading.Thread(target=replica, args=(owner,)) for owner in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert set(taken["a"]) | set(taken["b"]) == every
    assert not set(taken["a"]) & set(taken["b"])  # never both
    assert len(taken["a"]) + len(taken["b"]) == 200
    if store == "postgresql":
        assert taken["a"] and taken["b"]  # SKIP LOCKED: both made progress side by side


def test_a_held_job_is_taken_over_only_once_its_lease_has_run_out(store: str) -> None:
    work = kind()
    with session_scope() as session:
        job_id = jobs.add(session, work, "m-1", owner="replica-a", lease=0.5)
    assert jobs.claim([work], "replica-b") == []  # its owner lives (its lease runs)
    assert jobs.take(work, "m-1", "replica-b") is None
    assert jobs.renew("replica-a", [job_id], lease=0.5) == 1
    time.sleep(0.7)  # replica-a died: no renewal
    [job] = jobs.claim([work], "replica-b")
    assert job.id == job_id and row(job_id).claimed_by == "replica-b"
    assert jobs.renew("replica-a", [job_id]) == 0  # the old owner learns it lost it


def test_work_tried_again_waits_for_its_time_then_anyone_may_take_it(store: str) -> None:
    work = kind()
    [job_id] = add_many(work, 1)
    [job] = jobs.claim([work], "replica-a")
    later = utcnow() + dt.timedelta(seconds=60)
    with session_scope() as session:
        jobs.settle(session, work, job.ref, later, "HTTP 503")
    assert jobs.claim([work], "replica-b") == []  # not before its time
    [again] = jobs.claim([work], "replica-b", due_by=later)
    assert (again.id, again.attempts, row(job_id).last_error) == (job_id, 1, "HTTP 503")
    with session_scope() as session:
        jobs.settle(session, work, job.ref)  # done: gone
    assert row(job_id) is None


def test_a_timer_is_set_once_per_key(store: str) -> None:
    work, due = kind(), utcnow() + dt.timedelta(minutes=5)
    first = jobs.schedule(work, "c-1", due_at=due, key=f"{work}:c-1")
    assert first is not None
    assert jobs.schedule(work, "c-1", due_at=due, key=f"{work}:c-1") is None  # every replica's tick sets it
    with session_scope() as session:
        assert session.scalar(select(Job.id).where(Job.kind == work)) == first


def test_the_scheduler_runs_due_work_retries_failures_and_gives_claims_back_on_stop(store: str) -> None:
    work, ran = kind(), []

    async def scenario() -> None:
        scheduler = jobs.Scheduler(owner="replica-a", interval=0.05)

        async def handler(job: jobs.Job) -> None:
            ran.append(job.ref)
            if job.ref == "boom":
                raise RuntimeError("provider down")
            jobs.complete(job.id)

        scheduler.handle(work, handler)
        with session_scope() as session:
            ok = jobs.add(session, work, "ok")
            boom = jobs.add(session, work, "boom")
            held = jobs.add(session, work, "held", owner="replica-a")
        scheduler.hold(held)  # claimed at birth, being worked on here
        scheduler.start()
        for _ in range(100):
            if {"ok", "boom"} <= set(ran):
                break
            await asyncio.sleep(0.05)
        await scheduler.stop(grace=1)
        assert row(ok) is None  # done
        failed = row(boom)
        assert failed.claimed_by is None and failed.attempts == 1 and failed.last_error == "RuntimeError"
        assert failed.due_at > utcnow()  # backoff: not at once
        assert row(held).claimed_by is None  # given back for another replica to take at once

    asyncio.run(scenario())
    assert ran.count("boom") == 1 and "held" not in ran
