"""Load generator, run in its own process so it never shares a CPU slice with a server's event loop.

    python -m bench.load --target ours|plain --url http://127.0.0.1:PORT --concurrency N \
        --conversations C [--offset K]

N workers each hold one conversation at a time and send its messages back-to-back, each after
the previous reply arrived; every conversation is a new person (fresh sender id, or a fresh web
chat session for ours). Prints one JSON object: per-message latencies and the wall time.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

# Realistic first contacts of anonymous people, in both languages: greeting, an FAQ, where is my
# order (the form asks for the email on file, then the order action runs), a stock question (an
# action that looks at who is asking) and thanks. Every message also runs the language action.
SCRIPTS: tuple[tuple[str, ...], ...] = (
    (
        "hola, buenas tardes",
        "¿cuál es su horario de atención?",
        "¿dónde está mi pedido PED-10240?",
        "roberto.sanchez@example.com",
        "¿tienen existencias del tóner CF258A en Monterrey?",
        "muchas gracias",
    ),
    (
        "hi there",
        "what payment methods do you accept?",
        "where is my order PED-10243?",
        "sofia.ramirez@example.com",
        "do you have CF258A in stock in Guadalajara?",
        "thanks!",
    ),
    (
        "buenos días",
        "¿hacen envíos a todo el país?",
        "quiero saber el estatus de mi pedido PED-10234",
        "ana.lopez@example.com",
        "¿hay disponibilidad de la SSD KIN-SSD480 en Guadalajara?",
        "gracias, es todo",
    ),
    (
        "hello",
        "how do I return a product?",
        "can you track order PED-10246 for me?",
        "carlos.hernandez@example.com",
        "is the CF258A toner available in Puebla?",
        "thank you",
    ),
)


@dataclass
class Sample:
    latency_ms: float
    ok: bool
    replies: int


class Target:
    """How one server is spoken to; `send` returns the replies as the server rendered them."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def open(self) -> Any:
        return uuid.uuid4().hex

    async def send(self, who: Any, text: str, n: int) -> list[dict[str, Any]]:
        raise NotImplementedError


class Ours(Target):
    async def open(self) -> Any:
        response = await self.client.post("/webhooks/webchat/session", json={})
        response.raise_for_status()
        return response.json()["token"]

    async def send(self, who: Any, text: str, n: int) -> list[dict[str, Any]]:
        response = await self.client.post(
            "/webhooks/webchat/webhook",
            headers={"Authorization": f"Bearer {who}"},
            json={"text": text, "client_id": f"m{n}-{uuid.uuid4().hex[:8]}"},
        )
        response.raise_for_status()
        return response.json()["replies"]


class Plain(Target):
    async def send(self, who: Any, text: str, n: int) -> list[dict[str, Any]]:
        response = await self.client.post("/webhooks/rest/webhook", json={"sender": who, "message": text})
        response.raise_for_status()
        return response.json()


async def run(target: str, url: str, concurrency: int, conversations: int, offset: int = 0) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits, trust_env=False) as client:
        speaker: Target = (Ours if target == "ours" else Plain)(client)
        started_sessions = time.perf_counter()
        people = []
        for _ in range(conversations):  # a browser opens its session when the page loads
            people.append(await speaker.open())
        session_ms = (time.perf_counter() - started_sessions) * 1000 / max(1, conversations)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for index in range(conversations):
            queue.put_nowait(index)
        samples: list[Sample] = []
        transcripts: dict[int, list[dict[str, Any]]] = {}  # the first conversation of each script
        errors: list[str] = []

        async def worker() -> None:
            while True:
                try:
                    index = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                script = SCRIPTS[(index + offset) % len(SCRIPTS)]
                for n, text in enumerate(script):
                    began = time.perf_counter()
                    try:
                        replies = await speaker.send(people[index], text, n)
                        ok = True
                    except (httpx.HTTPError, KeyError, ValueError) as error:
                        replies, ok = [], False
                        if len(errors) < 5:
                            errors.append(f"{type(error).__name__}: {error}"[:300])
                    samples.append(Sample((time.perf_counter() - began) * 1000, ok, len(replies)))
                    if index < len(SCRIPTS):
                        transcripts.setdefault((index + offset) % len(SCRIPTS), []).append(
                            {"text": text, "replies": replies}
                        )

        began, cpu_began = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - began
        cpu = time.process_time() - cpu_began  # the generator's own share of the cores
    return {
        "target": target,
        "concurrency": concurrency,
        "conversations": conversations,
        "messages": len(samples),
        "wall_s": round(wall, 4),
        "cpu_s": round(cpu, 3),
        "latencies_ms": [round(s.latency_ms, 3) for s in samples if s.ok],
        "failed": sum(not s.ok for s in samples),
        "without_reply": sum(s.ok and s.replies == 0 for s in samples),
        "replies": sum(s.replies for s in samples),
        "session_ms": round(session_ms, 3),
        "errors": errors,
        "transcripts": {str(k): v for k, v in sorted(transcripts.items())},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=("ours", "plain"), required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--conversations", type=int, required=True)
    parser.add_argument("--offset", type=int, default=0, help="first script (rotates languages between runs)")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.target, args.url, args.concurrency, args.conversations, args.offset))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
