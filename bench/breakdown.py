"""Where the time of one message goes at N=1, measured in-process on the trained model.

    python -m bench.breakdown --action-url http://127.0.0.1:PORT/webhook [--conversations 8]

NLU is `Agent.parse_message`; policies+actions is `Agent.handle_text` (which parses again, with
the in-memory tracker store and the real action server) minus NLU; the action server call alone
is a POST of the payload Rasa would send, built from a real tracker. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from typing import Any

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

# One call per message (the language slot's custom mapping) and the order lookup.
TIMED_ACTIONS = ("action_detect_language", "action_check_order")


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


async def measure(action_url: str, conversations: int, calls: int) -> dict[str, Any]:
    import httpx
    from rasa.core.actions.action import RemoteAction
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig

    from bench.load import SCRIPTS
    from ops.training import MODEL_PATH

    endpoint = EndpointConfig(url=action_url)
    agent = Agent.load(str(MODEL_PATH), action_endpoint=endpoint)

    async def one(index: int) -> tuple[list[float], list[float], str]:
        sender = f"bench-{uuid.uuid4().hex}"
        nlu, total = [], []
        for text in SCRIPTS[index % len(SCRIPTS)]:
            began = time.perf_counter()
            await agent.parse_message(text)
            nlu.append(time.perf_counter() - began)
            began = time.perf_counter()
            await agent.handle_text(text, sender_id=sender)
            total.append(time.perf_counter() - began)
        return nlu, total, sender

    for index in range(len(SCRIPTS)):  # warm-up: graph components, TF functions, connections
        await one(index)
    nlu_all: list[float] = []
    total_all: list[float] = []
    sender = ""
    for index in range(conversations):
        nlu, total, sender = await one(index)
        nlu_all += nlu
        total_all += total

    # The order action's payload after a full order conversation, as Rasa posts it.
    tracker = await agent.tracker_store.retrieve(sender)
    action_ms: dict[str, float] = {}
    with httpx.Client(timeout=60, trust_env=False) as client:
        for name in TIMED_ACTIONS:
            payload = RemoteAction(name, endpoint)._action_call_format(tracker, agent.domain)
            body = json.dumps(payload)
            client.post(action_url, content=body, headers={"Content-Type": "application/json"}).raise_for_status()
            samples = []
            for _ in range(calls):
                began = time.perf_counter()
                client.post(action_url, content=body, headers={"Content-Type": "application/json"}).raise_for_status()
                samples.append(time.perf_counter() - began)
            action_ms[name] = _ms(statistics.median(samples))
        payload_kb = round(len(body) / 1024, 1)
    nlu_ms, total_ms = statistics.mean(nlu_all), statistics.mean(total_all)
    return {
        "messages": len(nlu_all),
        "nlu_ms": _ms(nlu_ms),
        "nlu_p50_ms": _ms(statistics.median(nlu_all)),
        "handle_text_ms": _ms(total_ms),
        "policies_actions_ms": _ms(total_ms - nlu_ms),
        "action_call_ms": action_ms,
        "action_payload_kb": payload_kb,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--action-url", required=True)
    parser.add_argument("--conversations", type=int, default=8)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args.action_url, args.conversations, args.calls))
    sys.stdout.flush()
    print("\nBENCH-RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
