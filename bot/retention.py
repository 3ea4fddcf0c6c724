"""Personal data is kept no longer than needed: conversations idle past RETENTION_DAYS are anonymised.

Once a day (at 08:00 UTC, 02:00 in Mexico City) a durable job anonymises every conversation
whose last message is older than `RETENTION_DAYS` (default 730): the words of its messages and
its dialogue events (bot/erasure.py), and its copies at the agents' desk (`desk_erase` jobs).
A contact none of whose conversations or channel identities was active since then is stripped of
what identifies them as on an erasure; the counts the service's figures need stay. The job's key
is its day, so however many replicas schedule it, one runs it; the run schedules the next day's.
Each run leaves an audit entry ("system:retention", `retention.anonymise`) with its counts.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Optional

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot import audit, config, db, jobs
from bot.db import session_scope, utcnow
from bot.erasure import anonymise_conversations, forget_contact
from bot.store import desk
from bot.store.models import ChannelIdentity, Conversation, Message

logger = logging.getLogger(__name__)

JOB = "retention"
RUN_AT = dt.time(8, 0, tzinfo=dt.timezone.utc)
BATCH = 200  # conversations per transaction
ACTOR = "system:retention"


def next_run(now: Optional[dt.datetime] = None) -> dt.datetime:
    """The next daily run after `now`."""
    now = now or utcnow()
    today = dt.datetime.combine(now.astimezone(dt.timezone.utc).date(), RUN_AT)
    return today if today > now else today + dt.timedelta(days=1)


def schedule_next(now: Optional[dt.datetime] = None) -> Optional[int]:
    """Schedules the next run after `now`, once per day whoever asks (None: already scheduled)."""
    due = next_run(now)
    return jobs.schedule(JOB, due_at=due, key=f"{JOB}:{due.date().isoformat()}", payload={"due": due.isoformat()})


def _last_activity() -> Any:
    """Per conversation, when its last message was stored (a subquery: cid, last)."""
    return (
        select(Message.conversation_id.label("cid"), func.max(Message.created_at).label("last"))
        .group_by(Message.conversation_id).subquery()
    )


def idle(session: Session, cutoff: dt.datetime, limit: int = BATCH) -> list[tuple[str, int]]:
    """(conversation, contact) idle since before `cutoff` and not anonymised since their last message."""
    last = _last_activity()
    last_at = func.coalesce(last.c.last, Conversation.created_at)
    rows = session.execute(
        select(Conversation.id, Conversation.contact_id)
        .outerjoin(last, last.c.cid == Conversation.id)
        .where(last_at < cutoff, or_(Conversation.anonymised_at.is_(None), Conversation.anonymised_at < last_at))
        .order_by(Conversation.id).limit(limit)
    ).all()
    return [(row[0], row[1]) for row in rows]


def _active_since(session: Session, contact_id: int, cutoff: dt.datetime) -> bool:
    """Whether the contact wrote, or was written to, since `cutoff` on any conversation or channel."""
    last = _last_activity()
    recent = session.execute(
        select(Conversation.id).outerjoin(last, last.c.cid == Conversation.id)
        .where(Conversation.contact_id == contact_id,
               func.coalesce(last.c.last, Conversation.created_at) >= cutoff).limit(1)
    ).first()
    seen = session.execute(
        select(ChannelIdentity.id).where(ChannelIdentity.contact_id == contact_id,
                                         ChannelIdentity.last_seen_at >= cutoff).limit(1)
    ).first()
    return recent is not None or seen is not None


def _batch(cutoff: dt.datetime, now: dt.datetime, counts: dict[str, int]) -> bool:
    """One batch in one transaction; False when nothing was left to do."""
    with session_scope() as session:
        found = idle(session, cutoff)
        if not found:
            return False
        ids = [conversation_id for conversation_id, _ in found]
        counts["messages"] += anonymise_conversations(session, ids, now)
        counts["conversations"] += len(ids)
        counts["desk_posts"] += desk.erase_later(desk.posts_of(ids, session), None, session=session)
        for contact_id in sorted({contact_id for _, contact_id in found}):
            if not _active_since(session, contact_id, cutoff):
                forget_contact(session, contact_id)
                counts["contacts"] += 1
    return True


def anonymise_idle(now: Optional[dt.datetime] = None, days: Optional[int] = None) -> dict[str, int]:
    """Anonymises every conversation idle for more than `days` (RETENTION_DAYS); returns the counts."""
    now = now or utcnow()
    days = days or config.retention_days()
    cutoff = now - dt.timedelta(days=days)
    counts = {"conversations": 0, "messages": 0, "contacts": 0, "desk_posts": 0}
    while _batch(cutoff, now, counts):
        pass
    audit.record(ACTOR, "retention.anonymise", detail={"days": days, **counts})
    logger.info("retention (%d days): anonymised %d conversation(s), %d contact(s)", days,
                counts["conversations"], counts["contacts"])
    return counts


async def run_job(job: jobs.Job) -> None:
    """The daily job: anonymise, then set the next day's (a crash in between runs this one again:
    harmless). The next is the day after this one was due, even if this one ran late or early."""
    await db.call(anonymise_idle)
    due = (job.payload or {}).get("due")
    after = max(utcnow(), dt.datetime.fromisoformat(due)) if due else utcnow()
    await db.call(schedule_next, after)
    await db.call(jobs.complete, job.id)
