"""Care cycles as records: each session and each hand-off a row of its own, kept as they happen.

The conversation holds one `handed_off_at`, `resolved_at` and `csat` at a time, and a person's
second hand-off overwrote the first; the service's KPIs (bot/kpis.py) need every episode. So the
places that change a conversation's state also write here, in the same transaction:

- a *session* (`care_sessions`) is a contact's run of customer messages with no gap longer than
  Rasa's session expiry (60 minutes); while a hand-off is open (waiting for or with an agent) it
  does not expire. Its channel is the channel of its first message. It counts its customer
  messages, those the fallback answered, its hand-offs, and when the first bot reply was sent;
- a *hand-off* (`handoffs`) is one episode from the request to resolved or returned to the bot:
  requested, claimed, first agent reply sent, ended, the agent, the satisfaction survey asked,
  answered and its score. Its channel is the one the customer last wrote from when it was asked.

Durations are stored when they become known, in wall-clock seconds and in business seconds (the
service calendar in force then: hours, holidays), so the KPI query only aggregates numbers. Every
function takes the caller's session and the instant `at` it records (tests pass their own clock).
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session

from bot import service
from bot.db import Base, UTCDateTime, session_scope

SESSION_GAP = dt.timedelta(minutes=60)  # Rasa's session_expiration_time (domain.yml)
WITH_PEOPLE = ("waiting_agent", "agent")
# Rasa responses by which the fallback answers a message it did not understand: what
# action_handle_fallback (actions/dialogue_control.py) says on a first miss, an out-of-scope
# message, and a second miss in a row (the offer of a person).
FALLBACK_RESPONSES = frozenset({"utter_fallback", "utter_out_of_scope", "utter_offer_human"})
OUTCOMES = ("resolved", "returned")


class CareSession(Base):
    """A contact's run of messages (see the module docstring); `seq` numbers them per conversation."""

    __tablename__ = "care_sessions"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        Index(None, "started_at"),
    )

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(64), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False)
    seq = Column(Integer, nullable=False)
    channel = Column(String(16), nullable=False)
    started_at = Column(UTCDateTime, nullable=False)
    day = Column(Date, nullable=False)  # the service-local day it started (the daily series)
    last_message_at = Column(UTCDateTime, nullable=False)
    messages = Column(Integer, nullable=False, default=1, server_default="1")
    fallbacks = Column(Integer, nullable=False, default=0, server_default="0")
    handoffs = Column(Integer, nullable=False, default=0, server_default="0")
    first_reply_at = Column(UTCDateTime)
    reply_s = Column(Float)  # first customer message -> first bot reply sent
    reply_business_s = Column(Float)

    def __repr__(self) -> str:
        return f"CareSession({self.conversation_id!r} #{self.seq}, {self.channel})"


class Handoff(Base):
    """One hand-off episode, from the request to resolved or returned to the bot."""

    __tablename__ = "handoffs"
    __table_args__ = (
        CheckConstraint("outcome IS NULL OR outcome IN ('resolved', 'returned')", name="outcome"),
        CheckConstraint("csat IS NULL OR (csat BETWEEN 1 AND 5)", name="csat"),
        Index(None, "conversation_id", "id"),
        Index(None, "requested_at"),
    )

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(64), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False)
    session_id = Column(Integer, ForeignKey("care_sessions.id", ondelete="SET NULL"))
    channel = Column(String(16), nullable=False)
    requested_at = Column(UTCDateTime, nullable=False)
    claimed_at = Column(UTCDateTime)
    first_reply_at = Column(UTCDateTime)  # the first agent reply sent to the customer
    ended_at = Column(UTCDateTime)
    outcome = Column(String(16))  # resolved | returned; None while open
    agent = Column(String(100))
    csat_asked_at = Column(UTCDateTime)
    csat_answered_at = Column(UTCDateTime)
    csat = Column(Integer)
    reply_s = Column(Float)  # request -> first agent reply sent (the bot's time before is not counted)
    reply_business_s = Column(Float)
    resolution_s = Column(Float)  # request -> resolved
    resolution_business_s = Column(Float)

    def __repr__(self) -> str:
        return f"Handoff({self.conversation_id!r}, {self.requested_at}, {self.outcome})"


def _durations(start: dt.datetime, end: dt.datetime) -> tuple[float, float]:
    """(wall-clock seconds, business seconds) from `start` to `end`."""
    return max((end - start).total_seconds(), 0.0), service.calendar().business_seconds(start, end)


def _latest_session(session: Session, conversation_id: str) -> Optional[CareSession]:
    return session.execute(
        select(CareSession).where(CareSession.conversation_id == conversation_id)
        .order_by(CareSession.started_at.desc(), CareSession.seq.desc()).limit(1)
    ).scalar_one_or_none()


def _next_seq(session: Session, conversation_id: str) -> int:
    last = session.execute(
        select(func.max(CareSession.seq)).where(CareSession.conversation_id == conversation_id)
    ).scalar_one_or_none()
    return (last or 0) + 1


def _latest_handoff(session: Session, conversation_id: str) -> Optional[Handoff]:
    return session.execute(
        select(Handoff).where(Handoff.conversation_id == conversation_id).order_by(Handoff.id.desc()).limit(1)
    ).scalar_one_or_none()


# -- sessions -------------------------------------------------------------------------------------
def customer_message(session: Session, conversation_id: str, channel: str, at: dt.datetime,
                     status: Optional[str] = None) -> int:
    """A customer message stored at `at`: extends the conversation's session, or starts one after
    a gap of more than an hour (never while a hand-off is open: `status` is the conversation's).

    Returns the session's id. Two first messages racing on two replicas both try sequence n + 1:
    one insert fails on the unique key, and the caller's retry extends the winner's session.
    """
    latest = _latest_session(session, conversation_id)
    if latest is not None and (at - latest.last_message_at <= SESSION_GAP or status in WITH_PEOPLE):
        session.execute(
            update(CareSession).where(CareSession.id == latest.id)
            .values(messages=CareSession.messages + 1, last_message_at=max(latest.last_message_at, at))
            .execution_options(synchronize_session=False)
        )
        return latest.id
    row = CareSession(conversation_id=conversation_id, seq=_next_seq(session, conversation_id), channel=channel,
                      started_at=at, day=service.calendar().local(at).date(), last_message_at=at,
                      messages=1, fallbacks=0, handoffs=0)
    session.add(row)
    session.flush()
    return row.id


def bot_reply_sent(session: Session, conversation_id: str, at: dt.datetime) -> None:
    """A bot reply reached the provider at `at`: the session's first response, if it had none."""
    latest = _latest_session(session, conversation_id)
    if latest is None or latest.first_reply_at is not None:
        return
    wall, business = _durations(latest.started_at, at)
    session.execute(
        update(CareSession).where(CareSession.id == latest.id, CareSession.first_reply_at.is_(None))
        .values(first_reply_at=at, reply_s=wall, reply_business_s=business)
        .execution_options(synchronize_session=False)
    )


def fallback_answered(session: Session, conversation_id: str) -> None:
    """The fallback answered one more of the session's customer messages."""
    latest = _latest_session(session, conversation_id)
    if latest is not None:
        session.execute(
            update(CareSession).where(CareSession.id == latest.id)
            .values(fallbacks=CareSession.fallbacks + 1).execution_options(synchronize_session=False)
        )


# -- hand-offs ------------------------------------------------------------------------------------
def handoff_requested(session: Session, conversation_id: str, channel: Optional[str], at: dt.datetime) -> int:
    """A new episode (an earlier one stays as it was), counted in the session it happens in."""
    latest = _latest_session(session, conversation_id)
    if latest is not None:
        session.execute(
            update(CareSession).where(CareSession.id == latest.id)
            .values(handoffs=CareSession.handoffs + 1).execution_options(synchronize_session=False)
        )
    row = Handoff(conversation_id=conversation_id, session_id=latest.id if latest else None,
                  channel=channel or (latest.channel if latest else "unknown"), requested_at=at)
    session.add(row)
    session.flush()
    return row.id


def _open_handoff(session: Session, conversation_id: str) -> Optional[Handoff]:
    latest = _latest_handoff(session, conversation_id)
    return latest if latest is not None and latest.ended_at is None else None


def handoff_claimed(session: Session, conversation_id: str, agent: str, at: dt.datetime) -> None:
    """The open episode's agent and when they took it (the first claim only)."""
    current = _open_handoff(session, conversation_id)
    if current is not None and current.claimed_at is None:
        current.claimed_at = at
        current.agent = agent


def agent_reply_sent(session: Session, conversation_id: str, at: dt.datetime) -> None:
    """An agent's reply reached the provider at `at`: the latest episode's first response, if it
    had none (a reply still in flight when the agent resolved counts for that episode)."""
    current = _latest_handoff(session, conversation_id)
    if current is None or current.first_reply_at is not None or at < current.requested_at:
        return
    current.first_reply_at = at
    current.reply_s, current.reply_business_s = _durations(current.requested_at, at)


def handoff_ended(session: Session, conversation_id: str, outcome: str, agent: Optional[str],
                  at: dt.datetime) -> None:
    """The open episode is resolved (its resolution time is known) or returned to the bot."""
    if outcome not in OUTCOMES:
        raise ValueError(outcome)
    current = _open_handoff(session, conversation_id)
    if current is None:
        return
    current.ended_at = at
    current.outcome = outcome
    current.agent = current.agent or agent
    if outcome == "resolved":
        current.resolution_s, current.resolution_business_s = _durations(current.requested_at, at)


def csat_asked(session: Session, conversation_id: str, at: dt.datetime) -> None:
    """The survey question went to the customer after the latest episode was resolved."""
    current = _latest_handoff(session, conversation_id)
    if current is not None and current.outcome == "resolved" and current.csat_asked_at is None:
        current.csat_asked_at = at


def csat_answered(session: Session, conversation_id: str, score: int, at: dt.datetime) -> None:
    """The customer's rating of the latest resolved episode (once)."""
    current = _latest_handoff(session, conversation_id)
    if current is not None and current.outcome == "resolved" and current.csat is None:
        current.csat = score
        current.csat_answered_at = at
        current.csat_asked_at = current.csat_asked_at or at


def move(session: Session, source_conversations: list[str], target: str) -> None:
    """Two contacts found to be one person: their records follow the messages to `target`,
    numbered after the target's own sessions."""
    if not source_conversations:
        return
    first = _next_seq(session, target)
    moved = session.execute(
        select(CareSession).where(CareSession.conversation_id.in_(source_conversations))
        .order_by(CareSession.started_at, CareSession.id)
    ).scalars().all()
    for number, row in enumerate(moved, start=first):
        row.conversation_id, row.seq = target, number
    session.execute(
        update(Handoff).where(Handoff.conversation_id.in_(source_conversations)).values(conversation_id=target)
        .execution_options(synchronize_session=False)
    )
    session.flush()


def of_conversations(conversation_ids: list[str]) -> dict[str, list[dict]]:
    """A person's sessions and hand-off episodes, for their data-access export (ops/privacy.py).
    Erasure keeps them: they hold times and counts, no words, and the KPIs count them."""
    def row(obj: Base, names: tuple[str, ...]) -> dict:
        return {n: (v.isoformat() if hasattr(v := getattr(obj, n), "isoformat") else v) for n in names}

    with session_scope() as session:
        sessions = session.execute(select(CareSession).where(CareSession.conversation_id.in_(conversation_ids))
                                   .order_by(CareSession.started_at, CareSession.id)).scalars().all()
        handoffs = session.execute(select(Handoff).where(Handoff.conversation_id.in_(conversation_ids))
                                   .order_by(Handoff.id)).scalars().all()
        return {
            "sessions": [row(r, ("conversation_id", "channel", "started_at", "last_message_at", "messages",
                                 "fallbacks", "handoffs", "first_reply_at")) for r in sessions],
            "handoffs": [row(r, ("conversation_id", "channel", "requested_at", "claimed_at", "first_reply_at",
                                 "ended_at", "outcome", "agent", "csat_asked_at", "csat_answered_at", "csat"))
                         for r in handoffs],
        }
