"""Link codes: how a person proves that a channel without a verified phone is theirs.

The assistant issues `LINK-` plus 8 characters on request; sent from another channel within
10 minutes, it joins that channel's identity to the contact. One live code per contact, single
use, and both issuing and redeeming are rate limited, so guessing is hopeless: 31^8 codes
against at most `MAX_FAILED_REDEEMS_PER_HOUR` guesses per address.
"""
from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Optional

from sqlalchemy import func, select, update

from bot.conversations import MergeConflict, merge_contacts
from bot.db import session_scope, utcnow
from bot.store.models import ChannelIdentity, Contact, Conversation, LinkAttempt, LinkCode

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"[:32]  # no I, L, O, 0, 1: read aloud and typed easily
CODE_LENGTH = 8
TTL = dt.timedelta(minutes=10)
MAX_CODES_PER_HOUR = 5
MAX_FAILED_REDEEMS_PER_HOUR = 10
CODE_PATTERN = re.compile(r"\bLINK-?([A-Z0-9]{8})\b", re.IGNORECASE)


class RateLimited(Exception):
    """Too many codes issued, or too many wrong codes tried, in the last hour."""


@dataclass(frozen=True)
class Redeemed:
    outcome: str  # linked | already_linked | invalid | conflict | rate_limited
    conversation_id: Optional[str] = None
    language: Optional[str] = None  # of the contact joined: the reply continues in it


def find_code(text: str) -> Optional[str]:
    """The link code in a message, canonical (`LINK-XXXXXXXX`), if it carries one."""
    match = CODE_PATTERN.search(text or "")
    return f"LINK-{match.group(1).upper()}" if match else None


def without_code(text: str) -> str:
    """The message minus its link code: random letters say nothing about the writer's language."""
    return CODE_PATTERN.sub(" ", text or "")


def issue_code(conversation_id: str) -> str:
    """A fresh code for the contact of `conversation_id`; earlier live codes stop working."""
    now = utcnow()
    with session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            contact = Contact()
            session.add(contact)
            session.flush()
            conversation = Conversation(id=conversation_id, contact_id=contact.id)
            session.add(conversation)
            session.flush()
        recent = session.execute(
            select(func.count(LinkCode.id)).where(
                LinkCode.contact_id == conversation.contact_id, LinkCode.created_at > now - dt.timedelta(hours=1)
            )
        ).scalar_one()
        if recent >= MAX_CODES_PER_HOUR:
            raise RateLimited("link codes")
        session.execute(  # one live code per contact: earlier ones expire now (and still count above)
            update(LinkCode)
            .where(LinkCode.contact_id == conversation.contact_id, LinkCode.expires_at > now)
            .values(expires_at=now)
        )
        code = "LINK-" + "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        session.add(LinkCode(code=code, contact_id=conversation.contact_id, created_at=now, expires_at=now + TTL))
        return code


def redeem(code: str, channel: str, address: str) -> Redeemed:
    """Joins (channel, address) to the contact that owns `code`, merging contacts if needed."""
    key = f"{channel}:{address}"
    now = utcnow()
    with session_scope() as session:
        failures = session.execute(
            select(func.count(LinkAttempt.id)).where(
                LinkAttempt.key == key,
                LinkAttempt.success.is_(False),
                LinkAttempt.created_at > now - dt.timedelta(hours=1),
            )
        ).scalar_one()
        if failures >= MAX_FAILED_REDEEMS_PER_HOUR:
            return Redeemed("rate_limited")
        row = session.execute(select(LinkCode).where(LinkCode.code == code.upper())).scalar_one_or_none()
        if row is None or not row.is_live(now):
            session.add(LinkAttempt(key=key, success=False, created_at=now))
            return Redeemed("invalid")
        identity = session.execute(
            select(ChannelIdentity).where(ChannelIdentity.channel == channel, ChannelIdentity.address == address)
        ).scalar_one_or_none()
        target = session.get(Contact, row.contact_id)
        if identity is not None and identity.contact_id == target.id:
            row.used_at = now
            return Redeemed("already_linked", _current_conversation(session, target.id), target.language)
        try:
            with session.begin_nested():
                if identity is None:
                    session.add(ChannelIdentity(channel=channel, address=address, contact_id=target.id, verified_by="link_code"))
                else:
                    source = session.get(Contact, identity.contact_id)
                    merge_contacts(session, source=source, target=target)
                    identity.verified_by = identity.verified_by or "link_code"
        except MergeConflict:
            session.add(LinkAttempt(key=key, success=False, created_at=now))
            return Redeemed("conflict")
        row.used_at = now
        session.add(LinkAttempt(key=key, success=True, created_at=now))
        return Redeemed("linked", _current_conversation(session, target.id), target.language)


def _current_conversation(session, contact_id: int) -> Optional[str]:
    return session.execute(
        select(Conversation.id)
        .where(Conversation.contact_id == contact_id)
        .order_by(Conversation.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()
