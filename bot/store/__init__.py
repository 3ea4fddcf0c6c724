"""The shared conversation store: contacts, their channel identities, conversations and messages.

Also the agents' desk's own tables (`desk_threads`, `desk_posts`: bot/store/desk.py), the care
cycles' (`care_sessions`, `handoffs`, bot/store/cycles.py), the SLA clocks and alerts
(`sla_clocks`, `sla_alerts`, bot/store/sla.py) and the audit trail (`audit_log`, written through
bot/audit.py), and the order notices' (`order_events`, `notices`, `notice_consents`,
bot/store/notices.py): imported here so that whoever loads the store's tables (Alembic, tests) gets them too.
"""
from bot.store.models import (
    AUTHORS,
    CHANNELS,
    CONVERSATION_STATUSES,
    DELIVERY_STATUSES,
    DIRECTIONS,
    LANGUAGES,
    VERIFIERS,
    AuditEntry,
    ChannelIdentity,
    Contact,
    Conversation,
    Job,
    LinkAttempt,
    LinkCode,
    Message,
    StreamTicket,
)
from bot.store.desk import DeskPost, DeskThread
from bot.store.cycles import CareSession, Handoff
from bot.store.sla import SlaAlert, SlaClock
from bot.store.notices import Notice, NoticeConsent, OrderEventRow
from bot.store.normalize import canonical_phone, normalize_email, phone_variants, same_phone

__all__ = [
    "AUTHORS",
    "CHANNELS",
    "CareSession",
    "CONVERSATION_STATUSES",
    "DELIVERY_STATUSES",
    "DIRECTIONS",
    "LANGUAGES",
    "VERIFIERS",
    "AuditEntry",
    "ChannelIdentity",
    "Contact",
    "DeskPost",
    "DeskThread",
    "Handoff",
    "Conversation",
    "Job",
    "LinkAttempt",
    "LinkCode",
    "Message",
    "SlaAlert",
    "SlaClock",
    "StreamTicket",
    "Notice",
    "NoticeConsent",
    "OrderEventRow",
    "canonical_phone",
    "normalize_email",
    "phone_variants",
    "same_phone",
]
