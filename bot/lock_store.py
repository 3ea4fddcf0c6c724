"""Rasa's lock store, backed by our turn locks (bot/turn_lock.py), named in endpoints.yml.

Rasa locks a conversation itself (Agent.handle_message, its HTTP API's tracker routes, reminders,
our hand-off's resume). Its own RedisLockStore cannot be trusted across replicas: tickets are
issued with a plain GET then SET, so two replicas can hold one conversation at once, and a ticket
outliving its 60 s lifetime lets a second turn in. This store hands Rasa the same lease the hub
takes, so a conversation has one lock whoever asks for it:

- inside a hub turn (the hub holds the lease, then calls Rasa, which locks again) the lock is
  re-entrant: the code runs in the hold() block of this conversation (`held_lease`), including
  tasks the turn awaits;
- anywhere else (Rasa's HTTP API) it holds the process's TurnLocks for the block.

Rasa's ticket bookkeeping (issue_ticket, get_lock, ...) has no meaning here and raises.
"""
from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, NoReturn, Optional

from rasa.core.lock_store import LOCK_LIFETIME, LockStore
from rasa.utils.endpoints import EndpointConfig

from bot.turn_lock import Lease, TurnLocks, get_turn_locks, held_lease


class UnisonoLockStore(LockStore):
    """`lock_store: type: bot.lock_store.UnisonoLockStore` (Rasa passes `endpoint_config`)."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None,
                 turn_locks: Optional[TurnLocks] = None) -> None:
        """`turn_locks` defaults to the process's instance (REDIS_URL decides which kind); tests
        give two stores their own, as two replicas would have."""
        super().__init__()
        self.endpoint_config = endpoint_config
        self._turn_locks = turn_locks

    @property
    def turn_locks(self) -> TurnLocks:
        return self._turn_locks if self._turn_locks is not None else get_turn_locks()

    @asynccontextmanager
    async def lock(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = 1) -> AsyncIterator[Lease]:  # type: ignore[override]
        """Yields the conversation's lease (not a TicketLock: Rasa's callers ignore the value).

        `lock_lifetime` and `wait_time_in_seconds` are Rasa's ticket settings: the lease's own
        lifetime and renewal replace the first, and waiting polls far faster than the second.
        A lease already lost when Rasa asks raises LeaseLost: the turn must not run the dialogue
        and store its events after another replica took the conversation.
        """
        held = held_lease(conversation_id)
        if held is not None:
            held.check()
            yield held
            return
        async with self.turn_locks.hold(conversation_id) as lease:
            yield lease

    # -- Rasa's ticket bookkeeping: unused by lock() above ----------------------------------------
    def _no_tickets(self, *_: Any, **__: Any) -> NoReturn:
        raise NotImplementedError(
            "UnisonoLockStore keeps no tickets: use `async with store.lock(conversation_id)` "
            "(leases in bot/turn_lock.py)")

    get_lock = _no_tickets
    delete_lock = _no_tickets
    save_lock = _no_tickets
    issue_ticket = _no_tickets
    update_lock = _no_tickets
    get_or_create_lock = _no_tickets
    is_someone_waiting = _no_tickets
    finish_serving = _no_tickets
    cleanup = _no_tickets
