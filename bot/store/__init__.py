"""The shared conversation store: contacts, their channel identities, conversations and messages."""
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
    LinkAttempt,
    LinkCode,
    Message,
)
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
    "Conversation",
    "LinkAttempt",
    "LinkCode",
    "Message",
    "canonical_phone",
    "normalize_email",
    "phone_variants",
    "same_phone",
]
