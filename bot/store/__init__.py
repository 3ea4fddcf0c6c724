"""The shared conversation store: contacts, their channel identities, conversations and messages.

Also the agents' desk's own table (`desk_threads`, bot/store/desk.py): imported here so that
whoever loads the store's tables (Alembic, tests) gets it too.
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
    StreamTicket,
)
from bot.store.desk import DeskThread
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
    "StreamTicket",
    "canonical_phone",
    "normalize_email",
    "phone_variants",
    "same_phone",
]
