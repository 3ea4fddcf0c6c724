"""Rasa's lock store (bot/lock_store.py): loaded from endpoints.yml by Rasa's own factory, exclusive
across replicas sharing Redis, and re-entrant inside the lease the hub already holds (Rasa's
Agent.handle_message locks the conversation again)."""
from __future__ import annotations

import asyncio
import contextvars
import time
from typing import Iterator

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.lock_store import LockStore

from bot.lock_store import UnisonoLockStore
from bot.turn_lock import Lease, LeaseLost, LocalTurnLocks, RedisTurnLocks, current_lease, get_turn_locks


@pytest.fixture
def replicas(redis_url: str, prefix: str) -> Iterator[list[RedisTurnLocks]]:
    locks = [RedisTurnLocks(redis_url, prefix=prefix, owner=f"replica-{i}") for i in range(2)]
    yield locks


class _Dialogue:
    """Stands in for the trained model behind Agent.handle_message: records the lease it runs
    under and how long, so the test sees what Rasa's own lock let through."""

    def __init__(self) -> None:
        self.turns: list[tuple[float, float, Lease]] = []

    async def handle_message(self, message: UserMessage) -> list:
        lease = current_lease.get()
        assert lease is not None and lease.conversation_id == message.sender_id
        start = time.monotonic()
        await asyncio.sleep(0.002)
        self.turns.append((start, time.monotonic(), lease))
        return []


def _agent(store: LockStore, dialogue: _Dialogue) -> Agent:
    agent = Agent(lock_store=store)
    agent.processor = dialogue  # type: ignore[assignment]
    return agent


def test_rasa_loads_it_from_endpoints_yml(monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa.core.utils import read_endpoints_from_path

    from bot.config import ROOT

    monkeypatch.delenv("REDIS_URL", raising=False)
    get_turn_locks.cache_clear()
    try:
        store = LockStore.create(read_endpoints_from_path(ROOT / "endpoints.yml").lock_store)
        assert isinstance(store, UnisonoLockStore)
        assert isinstance(store.turn_locks, LocalTurnLocks)
    finally:
        get_turn_locks.cache_clear()
    with pytest.raises(NotImplementedError, match="keeps no tickets"):
        store.issue_ticket("c")


async def test_rasa_turns_exclude_each_other_across_replicas(replicas: list[RedisTurnLocks]) -> None:
    """Rasa's HTTP API and handle_message on two replicas: one turn of a conversation at a time."""
    dialogue = _Dialogue()
    agents = [_agent(UnisonoLockStore(turn_locks=locks), dialogue) for locks in replicas]
    try:
        await asyncio.gather(*(
            agents[i % 2].handle_message(UserMessage(f"m{i}", CollectingOutputChannel(), sender_id="c"))
            for i in range(20)))
        # Rasa's server routes take the lock directly (rasa/server.py).
        async with agents[1].lock_store.lock("c") as api_lease:
            assert api_lease.owner.startswith("replica-1/")
    finally:
        await asyncio.gather(*(locks.close() for locks in replicas))
    turns = sorted(dialogue.turns, key=lambda turn: turn[0])
    assert len(turns) == 20
    assert {turn[2].owner.split("/")[0] for turn in turns} == {"replica-0", "replica-1"}
    for (_, end, lease), (start, _, next_lease) in zip(turns, turns[1:]):
        assert start >= end, "two Rasa turns of one conversation overlapped"
        assert next_lease.token > lease.token
    assert api_lease.token > turns[-1][2].token


@pytest.mark.parametrize("kind", ["local", "redis"])
async def test_reentrant_inside_the_hubs_lease(kind: str, replicas: list[RedisTurnLocks]) -> None:
    """The hub holds the conversation, then calls Agent.handle_message, which locks it again:
    the same lease, no deadlock, and the conversation stays held until the hub lets go."""
    locks = LocalTurnLocks() if kind == "local" else replicas[0]
    other = UnisonoLockStore(turn_locks=LocalTurnLocks() if kind == "local" else replicas[1])
    dialogue = _Dialogue()
    agent = _agent(UnisonoLockStore(turn_locks=locks), dialogue)
    try:
        async with locks.hold("c") as hub_lease:
            message = UserMessage("hi", CollectingOutputChannel(), sender_id="c")
            await asyncio.wait_for(agent.handle_message(message), 2)
            assert dialogue.turns[0][2] is hub_lease
            assert current_lease.get() is hub_lease
            async with agent.lock_store.lock("other") as elsewhere:  # another conversation: its own lock
                assert elsewhere.conversation_id == "other" and elsewhere is not hub_lease
            assert current_lease.get() is hub_lease
            if kind == "redis":  # another replica (its own context, not this turn's) waits
                elsewhere_task = asyncio.create_task(_enter(other, "c"), context=contextvars.Context())
                await asyncio.sleep(0.2)
                assert not elsewhere_task.done()
        if kind == "redis":
            await asyncio.wait_for(elsewhere_task, 1)  # and gets in once the hub lets go
    finally:
        await asyncio.gather(*(r.close() for r in replicas))


async def _enter(store: UnisonoLockStore, conversation_id: str) -> None:
    async with store.lock(conversation_id):
        pass


async def test_a_task_outliving_the_turn_does_not_inherit_its_lock() -> None:
    """A task created inside the turn copies its context, lease included; once the turn is over
    that copy must not let it skip the lock (it would run beside the next turn)."""
    locks = LocalTurnLocks()
    store = UnisonoLockStore(turn_locks=locks)
    turn_over = asyncio.Event()
    seen: list[Lease] = []

    async def later() -> None:
        await turn_over.wait()
        async with store.lock("c") as lease:
            seen.append(lease)

    async with locks.hold("c") as turn_lease:
        task = asyncio.create_task(later())
    async with locks.hold("c") as next_turn:
        turn_over.set()
        await asyncio.sleep(0.01)
        assert not seen, "the task entered beside the next turn"
    await asyncio.wait_for(task, 1)
    assert seen[0] is not turn_lease and seen[0].token > next_turn.token


async def test_a_lost_lease_keeps_rasa_out(redis_url: str, prefix: str) -> None:
    """A turn whose lease was lost (paused past it) must not run the dialogue and store events."""
    locks = RedisTurnLocks(redis_url, lease_ms=200, prefix=prefix)
    store = UnisonoLockStore(turn_locks=locks)
    try:
        async with locks.hold("c"):
            time.sleep(0.25)  # paused: the renewal could not run
            with pytest.raises(LeaseLost):
                await asyncio.wait_for(_enter(store, "c"), 2)
    finally:
        await locks.close()
