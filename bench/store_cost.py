"""What our store costs per message: the hub's store operations, timed one by one, in-process.

    DATABASE_URL=... python -m bench.store_cost [--conversations 30] [--replies replies.json]

Replays, for fresh web chat sessions, exactly the store calls `Hub.receive` and the web chat
route make for one message (accept: dedupe, resolve and store inbound in one transaction;
begin_turn: status, language and last buttons; each reply enqueued and delivered through the
outbox with the web chat sender; finish_turn: mark processed and read the status; the replies
read back for the HTTP answer). Rasa is not involved: the replies are the
ones Rasa actually gave to the same scripts (`--replies`, captured by the load run). The database
must be migrated and seeded. Prints one JSON object with milliseconds per message.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

STORE_OPS = ("accept", "begin_turn", "enqueue", "finish_turn", "read_replies")


def default_replies() -> dict[str, list[list[dict[str, Any]]]]:
    """One short text reply per message: used only when no captured replies are given."""
    from bench.load import SCRIPTS

    return {str(i): [[{"text": f"reply to: {text}"}] for text in script] for i, script in enumerate(SCRIPTS)}


class _Stopwatch:
    """Seconds spent in each named operation, summed over a run."""

    def __init__(self) -> None:
        self.totals: defaultdict[str, float] = defaultdict(float)

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        yield
        self.totals[name] += time.perf_counter() - began


async def _conversation(index: int, replies: dict[str, list[list[dict[str, Any]]]], outbox: Any,
                        watch: _Stopwatch) -> int:
    """One scripted web chat conversation through the hub's store calls; returns its messages."""
    from bench.load import SCRIPTS
    from bot import conversations as store
    from bot import language, tokens
    from bot.messages import Inbound, Outbound
    from connectors.webchat import CHANNEL

    timed = watch.timed
    script = SCRIPTS[index % len(SCRIPTS)]
    answers = replies.get(str(index % len(SCRIPTS))) or default_replies()[str(index % len(SCRIPTS))]
    address = tokens.new_session_id()
    for n, text in enumerate(script):
        inbound = Inbound(channel=CHANNEL, address=address, text=text, provider_message_id=f"{address}:m{n}")
        with timed("accept"):
            party, message_id, _job = store.accept(inbound, text)
        with timed("begin_turn"):
            store.begin_turn(party.conversation_id, message_id, language.detect(text), False)
        reply_ids = []
        for raw in answers[n] if n < len(answers) else [{"text": "ok"}]:
            with timed("rendering"):
                outbound = Outbound.from_rasa(raw)
            with timed("enqueue"):
                pending = outbox.enqueue(party.conversation_id, CHANNEL, outbound)
            with timed("outbox"):
                status = await outbox.deliver(pending)
            if status != "sent":
                raise RuntimeError(f"outbox left reply {pending.id} {status}")
            reply_ids.append(pending.id)
        with timed("finish_turn"):
            store.finish_turn(party.conversation_id, message_id, processed=True)
        with timed("read_replies"):
            store.messages_json(reply_ids)
    return len(script)


def _per_message(totals: dict[str, float], messages: int, wall: float) -> dict[str, Any]:
    per_message = {name: round(seconds * 1000 / messages, 4) for name, seconds in sorted(totals.items())}
    store_ms = sum(per_message.get(name, 0.0) for name in STORE_OPS)
    return {
        "messages": messages,
        "wall_s": round(wall, 3),
        "ops_ms_per_msg": per_message,
        "store_ms": round(store_ms, 3),  # store operations, outbox excluded
        "outbox_ms": round(per_message.get("outbox", 0.0), 3),
        "rendering_ms": round(per_message.get("rendering", 0.0), 4),
        "store_ms_per_msg": round(store_ms + per_message.get("outbox", 0.0), 3),  # what the hub adds
    }


async def measure(conversations: int, replies: dict[str, list[list[dict[str, Any]]]]) -> dict[str, Any]:
    """Milliseconds per message of each store operation over `conversations` scripted conversations."""
    from bot.outbox import Outbox
    from connectors.webchat import CHANNEL, WebChatSender

    outbox = Outbox({CHANNEL: WebChatSender()})
    watch = _Stopwatch()
    await _conversation(0, replies, outbox, watch)  # connections, statement caches
    watch.totals.clear()
    messages = 0
    began = time.perf_counter()
    for index in range(conversations):
        messages += await _conversation(index, replies, outbox, watch)
    return _per_message(watch.totals, messages, time.perf_counter() - began)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=30)
    parser.add_argument("--replies", type=Path, help="JSON: script index -> replies per message (Rasa format)")
    args = parser.parse_args(argv)
    replies = json.loads(args.replies.read_text()) if args.replies else default_replies()
    result = asyncio.run(measure(args.conversations, replies))
    sys.stdout.flush()
    print("\nBENCH-RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
