"""What our store costs per message: the hub's store operations, timed one by one, in-process.

    DATABASE_URL=... python -m bench.store_cost [--conversations 30] [--replies replies.json]

Replays, for fresh web chat sessions, exactly the store calls `Hub.receive` and the web chat
route make for one message (dedupe check, resolve, store inbound, status read, language, last
buttons, store each reply and deliver it through the outbox with the web chat sender, mark
processed, read the replies back for the HTTP answer). Rasa is not involved: the replies are the
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

STORE_OPS = (
    "is_duplicate", "resolve", "store_inbound", "conversation", "set_language", "last_buttons",
    "store_outbound", "mark_processed", "read_replies",
)


def default_replies() -> dict[str, list[list[dict[str, Any]]]]:
    """One short text reply per message: used only when no captured replies are given."""
    from bench.load import SCRIPTS

    return {str(i): [[{"text": f"reply to: {text}"}] for text in script] for i, script in enumerate(SCRIPTS)}


async def measure(conversations: int, replies: dict[str, list[list[dict[str, Any]]]]) -> dict[str, Any]:
    from bench.load import SCRIPTS
    from bot import conversations as store
    from bot import language, tokens
    from bot.db import session_scope
    from bot.messages import Inbound, Outbound
    from bot.outbox import Outbox
    from bot.store.models import Message
    from connectors.webchat import CHANNEL, WebChatSender

    outbox = Outbox({CHANNEL: WebChatSender()})
    totals: defaultdict[str, float] = defaultdict(float)

    @contextmanager
    def timed(name: str) -> Iterator[None]:
        began = time.perf_counter()
        yield
        totals[name] += time.perf_counter() - began

    async def conversation(index: int) -> int:
        script = SCRIPTS[index % len(SCRIPTS)]
        answers = replies.get(str(index % len(SCRIPTS))) or default_replies()[str(index % len(SCRIPTS))]
        address = tokens.new_session_id()
        for n, text in enumerate(script):
            inbound = Inbound(channel=CHANNEL, address=address, text=text, provider_message_id=f"{address}:m{n}")
            with timed("is_duplicate"):
                store.is_duplicate(inbound.channel, inbound.provider_message_id)
            with timed("resolve"):
                party = store.resolve(inbound)
            with timed("store_inbound"):
                message_id = store.store_inbound(party, inbound, text)
            with timed("conversation"):
                store.conversation(party.conversation_id)
            detected = language.detect(text)
            if detected:
                with timed("set_language"):
                    store.set_language(party.conversation_id, detected)
            with timed("last_buttons"):
                store.last_buttons(party.conversation_id, before=message_id)
            reply_ids = []
            for raw in answers[n] if n < len(answers) else [{"text": "ok"}]:
                with timed("rendering"):
                    outbound = Outbound.from_rasa(raw)
                    outbound.to_json()
                with timed("store_outbound"):
                    reply_id = store.store_outbound(party.conversation_id, CHANNEL, outbound)
                with timed("outbox"):
                    status = await outbox.deliver(reply_id)
                if status != "sent":
                    raise RuntimeError(f"outbox left reply {reply_id} {status}")
                reply_ids.append(reply_id)
            with timed("conversation"):
                store.conversation(party.conversation_id)
            with timed("mark_processed"):
                store.mark_processed(message_id)
            with timed("read_replies"):
                with session_scope() as db:
                    [store.message_json(db.get(Message, i)) for i in reply_ids]
        return len(script)

    await conversation(0)  # connections, statement caches
    totals.clear()
    messages = 0
    began = time.perf_counter()
    for index in range(conversations):
        messages += await conversation(index)
    wall = time.perf_counter() - began
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
