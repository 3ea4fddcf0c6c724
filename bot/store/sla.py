"""SLA clocks and the alerts they raised, in the store (the policy, targets and timers: bot/sla.py).

`sla_clocks`: one row per promise being timed, written once (unique kind, ref, episode): a
ticket's answer (ref: the ticket id) or a hand-off's first agent reply (ref: the conversation id;
episode: the hand-off's stamp, since one person can be handed off twice). A clock runs until
`stopped_at` is set: the ticket closed, the agent answered, the hand-off ended.

`sla_alerts`: one row per alert (unique kind, ref, episode, level). It is claimed before the
alert is posted and confirmed (`sent_at`) after: two replicas never both post it, a restart never
posts it again, and the counts (KPIs) survive. A claim that was never confirmed means its poster
died or lost the answer: the desk looks before it posts again.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Index,
    Integer,
    String,
    UniqueConstraint,
    and_,
    delete,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.db import Base, UTCDateTime, session_scope, utcnow
from bot.store.desk import WITH_PEOPLE
from bot.store.models import Conversation, Message

KINDS = ("ticket", "handoff")
LEVELS = ("warned", "breached")
SENT = ("sent", "delivered", "read")  # an agent's reply the provider took: the customer has it


class SlaClock(Base):
    """A promise being timed in business time: started, warned at 80 %, due, stopped."""

    __tablename__ = "sla_clocks"
    __table_args__ = (
        UniqueConstraint("kind", "ref", "episode"),
        CheckConstraint("kind IN ('ticket', 'handoff')", name="kind"),
        Index(None, "stopped_at", "due_at"),
    )

    id = Column(Integer, primary_key=True)
    kind = Column(String(8), nullable=False)
    ref = Column(String(64), nullable=False)  # a ticket id or a conversation id
    episode = Column(String(32), nullable=False)  # which hand-off of the conversation (ms stamp)
    channel = Column(String(16))  # the customer's channel (whatsapp, telegram, webchat...)
    started_at = Column(UTCDateTime, nullable=False)
    warn_at = Column(UTCDateTime, nullable=False)
    due_at = Column(UTCDateTime, nullable=False)
    stopped_at = Column(UTCDateTime)
    detail = Column(JSON)  # what the alert names: a ticket's area and priority, a target in minutes


class SlaAlert(Base):
    """An alert about one clock at one level, claimed before it is posted, confirmed after."""

    __tablename__ = "sla_alerts"
    __table_args__ = (
        UniqueConstraint("kind", "ref", "episode", "level"),
        CheckConstraint("kind IN ('ticket', 'handoff')", name="kind"),
        CheckConstraint("level IN ('warned', 'breached')", name="level"),
        Index(None, "sent_at"),
    )

    id = Column(Integer, primary_key=True)
    kind = Column(String(8), nullable=False)
    ref = Column(String(64), nullable=False)
    episode = Column(String(32), nullable=False)
    level = Column(String(8), nullable=False)
    channel = Column(String(16))
    due_at = Column(UTCDateTime, nullable=False)
    attempted_at = Column(UTCDateTime, nullable=False)
    attempted_by = Column(String(100))
    sent_at = Column(UTCDateTime)
    posted_ref = Column(String(64))  # where the desk posted it (Slack: the message ts)


@dataclass(frozen=True)
class Clock:
    kind: str
    ref: str
    episode: str
    channel: Optional[str]
    started_at: dt.datetime
    warn_at: dt.datetime
    due_at: dt.datetime
    stopped_at: Optional[dt.datetime] = None
    detail: Optional[dict] = None


@dataclass(frozen=True)
class OpenHandoff:
    """A hand-off nobody has answered yet (first agent reply not sent)."""

    conversation_id: str
    handed_off_at: dt.datetime
    channel: Optional[str]


def _clock(row: SlaClock) -> Clock:
    return Clock(row.kind, row.ref, row.episode, row.channel, row.started_at, row.warn_at, row.due_at,
                 row.stopped_at, row.detail)


def _insert(session: Session, table: Any, values: dict, unique: list[str]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING on either database; whether the row was added."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**values).on_conflict_do_nothing(index_elements=unique)
    return bool(session.execute(statement).rowcount)


def add_clock(session: Session, clock: Clock) -> bool:
    """Records a clock inside the caller's transaction; False when it already existed."""
    values = {name: getattr(clock, name) for name in Clock.__dataclass_fields__}
    return _insert(session, SlaClock, values, ["kind", "ref", "episode"])


def clock(kind: str, ref: str, episode: str) -> Optional[Clock]:
    with session_scope() as session:
        row = session.execute(
            select(SlaClock).where(SlaClock.kind == kind, SlaClock.ref == ref, SlaClock.episode == episode)
        ).scalar_one_or_none()
        return _clock(row) if row is not None else None


def clocks_of(kind: str, refs: Iterable[str]) -> list[Clock]:
    """Every clock (running or not) of these refs."""
    refs = list(refs)
    if not refs:
        return []
    with session_scope() as session:
        rows = session.execute(select(SlaClock).where(SlaClock.kind == kind, SlaClock.ref.in_(refs))).scalars()
        return [_clock(row) for row in rows]


def running(kind: Optional[str] = None) -> list[Clock]:
    """Clocks not stopped, soonest due first."""
    with session_scope() as session:
        query = select(SlaClock).where(SlaClock.stopped_at.is_(None)).order_by(SlaClock.due_at, SlaClock.id)
        if kind is not None:
            query = query.where(SlaClock.kind == kind)
        return [_clock(row) for row in session.execute(query).scalars()]


def stop(session: Session, kind: str, ref: str, episode: str, at: dt.datetime) -> bool:
    """Stops a running clock inside the caller's transaction; False when it was not running."""
    return bool(session.execute(
        update(SlaClock)
        .where(SlaClock.kind == kind, SlaClock.ref == ref, SlaClock.episode == episode, SlaClock.stopped_at.is_(None))
        .values(stopped_at=at)
        .execution_options(synchronize_session=False)
    ).rowcount)


# -- hand-offs waiting for their first agent reply --------------------------------------------------
def _answered() -> Any:
    """An agent's reply the provider took, since the conversation's current hand-off began."""
    return exists().where(
        Message.conversation_id == Conversation.id,
        Message.author == "agent",
        Message.direction == "out",
        Message.private.is_(False),
        Message.delivery_status.in_(SENT),
        Message.created_at >= Conversation.handed_off_at,
    )


def open_handoffs(conversation_id: Optional[str] = None) -> list[OpenHandoff]:
    """Hand-offs still with people and not answered yet (the queue: short by nature), or the one
    of `conversation_id` if it is such."""
    query = select(Conversation.id, Conversation.handed_off_at, Conversation.last_channel).where(
        Conversation.status.in_(WITH_PEOPLE), Conversation.handed_off_at.is_not(None), ~_answered()
    )
    if conversation_id is not None:
        query = query.where(Conversation.id == conversation_id)
    with session_scope() as session:
        return [OpenHandoff(*row) for row in session.execute(query).all()]


def channel_of(conversation_id: Optional[str]) -> Optional[str]:
    """The channel the customer last wrote from, if the conversation exists."""
    if not conversation_id:
        return None
    with session_scope() as session:
        return session.scalar(select(Conversation.last_channel).where(Conversation.id == conversation_id))


# -- alerts: claimed, then confirmed ----------------------------------------------------------------
def _about(clock: Clock, level: str) -> Any:
    return and_(SlaAlert.kind == clock.kind, SlaAlert.ref == clock.ref, SlaAlert.episode == clock.episode,
                SlaAlert.level == level)


def claim_alert(clock: Clock, level: str, owner: str, busy_for: dt.timedelta) -> str:
    """Takes the right to post one alert: "new" (post it), "sent" (it was: do nothing), "busy"
    (another replica is posting it now: later) or "unsure" (a claim nobody confirmed: its poster
    died or lost Slack's answer; look before posting)."""
    now = utcnow()
    with session_scope() as session:
        values = dict(kind=clock.kind, ref=clock.ref, episode=clock.episode, level=level, channel=clock.channel,
                      due_at=clock.due_at, attempted_at=now, attempted_by=owner)
        if _insert(session, SlaAlert, values, ["kind", "ref", "episode", "level"]):
            return "new"
        row = session.execute(select(SlaAlert).where(_about(clock, level)).with_for_update()).scalar_one()
        if row.sent_at is not None:
            return "sent"
        if row.attempted_by != owner and row.attempted_at > now - busy_for:
            return "busy"
        row.attempted_at, row.attempted_by = now, owner
        return "unsure"


def confirm_alert(clock: Clock, level: str, posted_ref: Optional[str], at: Optional[dt.datetime] = None) -> None:
    """The alert was posted (at `posted_ref`): it counts from now on."""
    with session_scope() as session:
        session.execute(
            update(SlaAlert).where(_about(clock, level), SlaAlert.sent_at.is_(None))
            .values(sent_at=at or utcnow(), posted_ref=posted_ref).execution_options(synchronize_session=False)
        )


def release_alert(clock: Clock, level: str) -> None:
    """The desk refused the alert (nothing was posted): gives the claim back for a later try."""
    with session_scope() as session:
        session.execute(delete(SlaAlert).where(_about(clock, level), SlaAlert.sent_at.is_(None)))


def alert_counts(since: dt.datetime, until: dt.datetime) -> list[tuple[Optional[str], str, int]]:
    """(channel, level, how many) of the alerts sent in [since, until)."""
    with session_scope() as session:
        return [tuple(row) for row in session.execute(  # type: ignore[misc]
            select(SlaAlert.channel, SlaAlert.level, func.count())
            .where(SlaAlert.sent_at.is_not(None), SlaAlert.sent_at >= since, SlaAlert.sent_at < until)
            .group_by(SlaAlert.channel, SlaAlert.level)
        ).all()]
