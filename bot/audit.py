"""Who did what with customers' data, and when: the trail an auditor asks for.

Agents' claims, replies, notes, resolves and returns at the desk; operators' exports, erasures and
rectifications; admin sign-ins and KPI exports. An entry names its actor ("agent:U123" for a
Slack user, "operator:ana" for a person at the command line, "admin:token", "system:retention"),
its action ("handoff.claim", "contacts.erase", ...) and the contact it is about, by id only.
`detail` holds ids and counts, never personal data (`record` refuses phones, e-mails and long
text), so erasing a person leaves the trail whole and the trail leaks nothing. The table
(`audit_log`) is append-only: the database refuses UPDATE and DELETE (migration 0005).
`python -m ops audit --since 7d [--who U123]` reads it.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, Optional

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.db import session_scope, utcnow
from bot.log_privacy import mask
from bot.store.models import AuditEntry

MAX_DETAIL_TEXT = 120  # a detail's strings are ids and names of things, not what someone wrote
_ACTOR = re.compile(r"[a-z]+:[^\s]{1,190}")
_ACTION = re.compile(r"[a-z_]+(\.[a-z_]+)+")


class PersonalDetail(ValueError):
    """An audit entry's detail carried what looks like personal data."""


def _checked(value: Any, path: str = "detail") -> Any:
    """The detail as stored: JSON values whose strings are short and mask to themselves."""
    if isinstance(value, dict):
        return {str(k): _checked(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_checked(v, f"{path}[]") for v in value]
    if isinstance(value, str):
        if len(value) > MAX_DETAIL_TEXT or mask(value) != value:
            raise PersonalDetail(f"{path} looks like personal data or free text")
        return value
    if value is None or isinstance(value, (bool, int, float)):
        return value
    raise PersonalDetail(f"{path} is a {type(value).__name__}, not a JSON value")


def record(actor: str, action: str, contact_id: Optional[int] = None, detail: Optional[dict] = None, *,
           session: Optional[Session] = None) -> None:
    """Appends one entry; inside the caller's transaction when `session` is given, so that the
    entry and the action it records are stored together or not at all."""
    if not _ACTOR.fullmatch(actor) or mask(actor) != actor:
        raise ValueError(f"actor must be kind:id, e.g. agent:U123 (got {len(actor)} characters)")
    if not _ACTION.fullmatch(action) or len(action) > 64:
        raise ValueError(f"action must be dotted words, e.g. handoff.claim: {action!r}")
    entry = AuditEntry(at=utcnow(), actor=actor, action=action, contact_id=contact_id,
                       detail=_checked(detail) if detail else None)
    if session is not None:
        session.add(entry)
        return
    with session_scope() as own:
        own.add(entry)


def _who(who: str) -> Any:
    """`agent:U123` is that actor; `U123` is whoever has that id; `agent:` is every agent."""
    if who.endswith(":"):
        return AuditEntry.actor.startswith(who, autoescape=True)
    if ":" in who:
        return AuditEntry.actor == who
    return or_(AuditEntry.actor == who, AuditEntry.actor.endswith(":" + who, autoescape=True))


def entries(since: dt.datetime, until: Optional[dt.datetime] = None, who: Optional[str] = None,
            contact_id: Optional[int] = None) -> list[dict]:
    """The entries from `since` (inclusive) to `until` (exclusive), oldest first, as JSON-ready dicts."""
    query = select(AuditEntry).where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    if who:
        query = query.where(_who(who))
    if contact_id is not None:
        query = query.where(AuditEntry.contact_id == contact_id)
    with session_scope() as session:
        rows = session.execute(query.order_by(AuditEntry.at, AuditEntry.id)).scalars().all()
        return [
            {"id": r.id, "at": r.at.isoformat(), "actor": r.actor, "action": r.action, "contact_id": r.contact_id,
             "detail": r.detail}
            for r in rows
        ]
