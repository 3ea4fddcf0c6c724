"""The shared conversation store: contacts, their channel identities, conversations and messages.

Also the agents' desk's own table (`desk_threads`, bot/store/desk.py) and the order notices'
(`order_events`, `notices`, `notice_consents`, bot/store/notices.py): imported here so that
whoever loads the store's tables (Alembic, tests) gets them too.
"""
from bot.store.models import (
    AUTHORS,
    CHANNELS,
    CONVERSATION_STATUSES,
    DELIVERY_STATUSES,
    DIRECTIONS,
    LANGUAGES,
    VERIFIERS,
    ChannelIdentity,
    Contact,
    Conversation,
    Job,
    LinkAttempt,
    LinkCode,
    Message,
)
from bot.store.desk import DeskThread
from bot.store.notices import Notice, NoticeConsent, OrderEventRow
from bot.store.normalize import canonical_phone, normalize_email, phone_variants, same_phone

__all__ = [
    "AUTHORS",
    "CHANNELS",
    "CONVERSATION_STATUSES",
    "DELIVERY_STATUSES",
    "DIRECTIONS",
    "LANGUAGES",
    "VERIFIERS",
    "ChannelIdentity",
    "Contact",
    "DeskThread",
    "Conversation",
    "Job",
    "LinkAttempt",
    "LinkCode",
    "Message",
    "Notice",
    "NoticeConsent",
    "OrderEventRow",
    "canonical_phone",
    "normalize_email",
    "phone_variants",
    "same_phone",
]
