"""Durable work that any replica may claim: the one queue and scheduler of the service.

Processing an inbound message, sending a reply, and timers (the Slack reminder; SLA timers and
customer notices next) are rows of `jobs`. A replica claims due rows with `FOR UPDATE SKIP
LOCKED` (two replicas never claim the same row, and neither waits for the other) and a lease it
renews while it works. A claim whose owner died is taken over once its lease has run out; while
the owner lives, nobody else does the work. Work is usually claimed at birth, in the transaction
that stores it, by the replica that is about to do it: the queue is then only the safety net.

On SQLite (one process) the same statements run without SKIP LOCKED: the database's single
writer serialises the claims.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, Optional

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot import config, db
from bot.db import session_scope, utcnow
from bot.store.models import Job as JobRow

logger = logging.getLogger(__name__)

LEASE_SECONDS = 30.0  # a claim lasts this long unless renewed (renewed every third of it)
POLL_SECONDS = 0.5  # how often a replica looks for due work
MAX_BACKOFF_SECONDS = 300.0


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    ref: Optional[str]
    payload: Optional[dict]
    attempts: int
    created_at: dt.datetime


def _job(row: JobRow) -> Job:
    return Job(row.id, row.kind, row.ref, row.payload, row.attempts, row.created_at)


def _claimable(now: dt.datetime, owner: Optional[str] = None) -> Any:
    free = or_(JobRow.lease_until.is_(None), JobRow.lease_until < now)
    return free if owner is None else or_(free, JobRow.claimed_by == owner)


def add(session: Session, kind: str, ref: Optional[str] = None, *, owner: Optional[str] = None,
        due_at: Optional[dt.datetime] = None, key: Optional[str] = None, payload: Optional[dict] = None,
        lease: float = LEASE_SECONDS) -> Optional[int]:
    """Adds a job inside the caller's transaction; claimed by `owner` from birth when given.

    With a `key`, a second job of the same key is not added (None is returned): timers are set
    once however many replicas set them.
    """
    now = utcnow()
    values = dict(kind=kind, ref=ref, key=key, payload=payload, due_at=due_at or now, created_at=now,
                  claimed_by=owner, lease_until=now + dt.timedelta(seconds=lease) if owner else None)
    if key is None:
        row = JobRow(**values)
        session.add(row)
        session.flush()
        return row.id
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    added = session.execute(dialect.insert(JobRow).values(**values).on_conflict_do_nothing(index_elements=["key"]))
    if not added.rowcount:
        return None
    return session.execute(select(JobRow.id).where(JobRow.key == key)).scalar_one()


def schedule(kind: str, ref: Optional[str] = None, *, due_at: dt.datetime, key: Optional[str] = None,
             payload: Optional[dict] = None) -> Optional[int]:
    """A timer: a job due at `due_at` that any replica runs then (once per `key`, when given)."""
    with session_scope() as session:
        return add(session, kind, ref, due_at=due_at, key=key, payload=payload)


def complete(job_id: int) -> None:
    """A job its handler has done."""
    with session_scope() as session:
        finish(session, job_id)


def claim(kinds: Iterable[str], owner: str, limit: int = 20, due_by: Optional[dt.datetime] = None,
          lease: float = LEASE_SECONDS) -> list[Job]:
    """Claims up to `limit` due jobs of `kinds` that nobody holds, oldest due first."""
    now = utcnow()
    with session_scope() as session:
        ids = session.execute(
            select(JobRow.id)
            .where(JobRow.kind.in_(list(kinds)), JobRow.due_at <= (due_by or now), _claimable(now))
            .order_by(JobRow.due_at, JobRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars().all()
        return _take(session, ids, owner, now, lease)


def due_refs(kind: str, limit: int = 100) -> list[str]:
    """What jobs of `kind` are about, for those due now and held by nobody (oldest due first)."""
    now = utcnow()
    with session_scope() as session:
        return list(session.execute(
            select(JobRow.ref).where(JobRow.kind == kind, JobRow.due_at <= now, _claimable(now))
            .order_by(JobRow.due_at, JobRow.id).limit(limit)
        ).scalars())


def take(kind: str, ref: str, owner: str, lease: float = LEASE_SECONDS) -> Optional[Job]:
    """Claims the job of `kind` about `ref` now, due or not, unless another owner holds it (the
    caller knows whether its own claim is being worked on: Scheduler.held)."""
    now = utcnow()
    with session_scope() as session:
        ids = session.execute(
            select(JobRow.id).where(JobRow.kind == kind, JobRow.ref == ref, _claimable(now, owner))
            .limit(1).with_for_update(skip_locked=True)
        ).scalars().all()
        taken = _take(session, ids, owner, now, lease, mine_too=True)
        return taken[0] if taken else None


def _take(session: Session, ids: list[int], owner: str, now: dt.datetime, lease: float,
          mine_too: bool = False) -> list[Job]:
    if not ids:
        return []
    until = now + dt.timedelta(seconds=lease)
    session.execute(
        update(JobRow).where(JobRow.id.in_(ids), _claimable(now, owner if mine_too else None))
        .values(claimed_by=owner, lease_until=until).execution_options(synchronize_session=False)
    )
    rows = session.execute(
        select(JobRow).where(JobRow.id.in_(ids), JobRow.claimed_by == owner, JobRow.lease_until == until)
        .order_by(JobRow.due_at, JobRow.id)
    ).scalars().all()
    return [_job(row) for row in rows]


def finish(session: Session, job_id: int, owner: Optional[str] = None) -> bool:
    """Removes a done job inside the caller's transaction (only while `owner` holds it, if given)."""
    condition = JobRow.id == job_id
    if owner is not None:
        condition = and_(condition, JobRow.claimed_by == owner)
    return session.execute(delete(JobRow).where(condition)).rowcount > 0


def again(session: Session, job_id: int, due_at: dt.datetime, error: Optional[str] = None) -> None:
    """Lets go of a job to be tried again at `due_at` by whichever replica is free then."""
    session.execute(
        update(JobRow).where(JobRow.id == job_id)
        .values(claimed_by=None, lease_until=None, due_at=due_at, attempts=JobRow.attempts + 1, last_error=error)
    )


def settle(session: Session, kind: str, ref: str, again_at: Optional[dt.datetime] = None,
           error: Optional[str] = None) -> None:
    """Finishes the job of `kind` about `ref` (whoever holds it: the work is done), or lets it go to
    be tried again at `again_at`."""
    about = and_(JobRow.kind == kind, JobRow.ref == ref)
    if again_at is None:
        session.execute(delete(JobRow).where(about).execution_options(synchronize_session=False))
        return
    session.execute(
        update(JobRow).where(about)
        .values(claimed_by=None, lease_until=None, due_at=again_at, attempts=JobRow.attempts + 1, last_error=error)
        .execution_options(synchronize_session=False)
    )


def cancel(session: Session, keys: Iterable[str]) -> int:
    """Removes pending timers by key inside the caller's transaction (one being run finishes as a
    no-op: its handler finds the work stopped); returns how many were removed."""
    keys = list(keys)
    if not keys:
        return 0
    return session.execute(delete(JobRow).where(JobRow.key.in_(keys)).execution_options(synchronize_session=False)).rowcount


def renew(owner: str, job_ids: Iterable[int], lease: float = LEASE_SECONDS) -> int:
    """Extends the leases `owner` still holds; returns how many it still holds."""
    ids = list(job_ids)
    if not ids:
        return 0
    with session_scope() as session:
        return session.execute(
            update(JobRow).where(JobRow.id.in_(ids), JobRow.claimed_by == owner)
            .values(lease_until=utcnow() + dt.timedelta(seconds=lease))
            .execution_options(synchronize_session=False)
        ).rowcount


def release(owner: str, job_ids: Iterable[int]) -> None:
    """Gives claims back (a replica stopping): due at once for the others."""
    ids = list(job_ids)
    if ids:
        with session_scope() as session:
            session.execute(
                update(JobRow).where(JobRow.id.in_(ids), JobRow.claimed_by == owner)
                .values(claimed_by=None, lease_until=None).execution_options(synchronize_session=False)
            )


def backoff(attempts: int) -> float:
    return min(MAX_BACKOFF_SECONDS, 2.0 ** max(0, attempts))


# A handler does the job and settles it itself (finish or again) in the transaction that records
# the result; if it raises, the job is tried again later with backoff.
Handler = Callable[[Job], Awaitable[None]]


class Scheduler:
    """Claims due jobs of the kinds it handles, runs them, and keeps their leases alive."""

    def __init__(self, owner: Optional[str] = None, lease: float = LEASE_SECONDS, interval: float = POLL_SECONDS,
                 concurrency: int = 8) -> None:
        self.owner = owner or config.replica_name()
        self.lease = lease
        self.interval = interval
        self.handlers: dict[str, Handler] = {}
        self.held: set[int] = set()  # jobs this process works on now: their leases are renewed
        self._slots = asyncio.Semaphore(concurrency)
        self._running: set[asyncio.Task] = set()
        self._loops: list[asyncio.Task] = []
        self.stopping = False

    def handle(self, kind: str, handler: Handler) -> None:
        self.handlers[kind] = handler

    def hold(self, job_id: Optional[int]) -> None:
        """Keeps renewing a job claimed at birth while this process works on it."""
        if job_id is not None:
            self.held.add(job_id)

    def let_go(self, job_id: Optional[int]) -> None:
        self.held.discard(job_id)

    async def run_due(self, kinds: Optional[Iterable[str]] = None, due_by: Optional[dt.datetime] = None) -> int:
        """Claims what is due now (of `kinds`, default all handled) and runs it; returns how many."""
        kinds = [k for k in (kinds or self.handlers) if k in self.handlers]
        if not kinds or self.stopping:
            return 0
        found = await db.call(claim, kinds, self.owner, 20, due_by, self.lease)
        await asyncio.gather(*(self._run(job) for job in found))
        return len(found)

    async def _run(self, job: Job) -> None:
        self.hold(job.id)
        try:
            async with self._slots:
                await self.handlers[job.kind](job)
        except Exception as error:  # noqa: BLE001 - a failed job waits and is tried again
            delay = backoff(job.attempts)
            logger.exception("job %s (%s) failed; again in %.0f s", job.id, job.kind, delay)
            await db.call(_again_later, job.id, delay, f"{type(error).__name__}")
        finally:
            self.let_go(job.id)

    async def _claim_forever(self) -> None:
        while not self.stopping:
            try:
                await self.run_due()
            except Exception:  # noqa: BLE001 - the loop must outlive a bad moment of the database
                logger.exception("claiming due jobs failed")
            await asyncio.sleep(self.interval)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            try:
                await db.call(renew, self.owner, set(self.held), self.lease)
            except Exception:  # noqa: BLE001 - leases are long enough to survive a missed renewal
                logger.exception("renewing job leases failed")

    def start(self) -> None:
        """Starts claiming and renewing on the running event loop (idempotent)."""
        if self._loops and not all(task.done() for task in self._loops):
            return
        self.stopping = False
        loop = asyncio.get_running_loop()
        self._loops = [loop.create_task(self._claim_forever()), loop.create_task(self._renew_forever())]

    async def stop(self, grace: float = 10.0, running: Iterable[asyncio.Task] = ()) -> None:
        """Stops claiming, lets running work finish for up to `grace` seconds, gives back the rest."""
        self.stopping = True
        waiting = [task for task in running if not task.done()]
        if waiting:
            await asyncio.wait(waiting, timeout=grace)
        for task in self._loops:
            task.cancel()
        held, self.held = set(self.held), set()
        await db.call(release, self.owner, held)
        logger.info("stopped: gave back %d claimed job(s)", len(held))


def _again_later(job_id: int, delay: float, error: Optional[str]) -> None:
    with session_scope() as session:
        again(session, job_id, utcnow() + dt.timedelta(seconds=delay), error)
