"""The whole assistant on PostgreSQL (DATABASE_URL alone): our store, Rasa's tracker store and the
demo backend on the server, store calls off the event loop (bot.db.call), conversations at once."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from sqlalchemy import create_engine, text

from ops import seed
from tests.conftest import start_server
from tests.helpers import temporary_database

pytestmark = pytest.mark.model

BASE = "/webhooks/webchat"
CONVERSATIONS = 6


@pytest.fixture(scope="module")
def pg_server(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with temporary_database("postgresql", tmp_path_factory.mktemp("pg")) as url:
        assert seed.seed(url) is True
        server, stop = start_server(url, name="server-postgresql")
        try:
            yield server.url(BASE), url
        finally:
            stop()


def _conversation(base: str, i: int) -> tuple[str, list[list[str]]]:
    with httpx.Client(base_url=base, timeout=120, trust_env=False) as http:
        token = http.post("/session", json={}).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        turns = []
        conversation_id = ""
        for words in ("hola", "cuál es su horario?", "where is my order PED-10234?"):
            response = http.post("/webhook", headers=headers, json={"text": words, "client_id": uuid.uuid4().hex})
            assert response.status_code == 200, response.text
            body = response.json()
            conversation_id = body["conversation_id"]
            turns.append([reply["text"] for reply in body["replies"]])
        return conversation_id, turns


def test_concurrent_conversations_on_postgresql_are_answered_and_stored(pg_server) -> None:
    base, url = pg_server
    with ThreadPoolExecutor(CONVERSATIONS) as pool:
        results = list(pool.map(lambda i: _conversation(base, i), range(CONVERSATIONS)))
    ids = [conversation_id for conversation_id, _ in results]
    assert len(set(ids)) == CONVERSATIONS  # each browser session its own conversation
    for _, (greeting, hours, order) in results:
        assert greeting and hours and order
        assert any("9:00" in reply for reply in hours)  # the opening-hours FAQ answer
        # An anonymous web chat visitor is asked to prove the order is theirs (actions/orders.py).
        assert any("confirm the email address the order was placed with" in reply for reply in order)
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as conn:
            inbound = conn.execute(text(
                "SELECT delivery_status, count(*) FROM messages WHERE direction = 'in' AND conversation_id = ANY(:ids) "
                "GROUP BY delivery_status"), {"ids": ids}).all()
            assert dict(inbound) == {"processed": 3 * CONVERSATIONS}
            pending = conn.execute(text(
                "SELECT count(*) FROM messages WHERE direction = 'out' AND conversation_id = ANY(:ids) "
                "AND delivery_status <> 'sent'"), {"ids": ids}).scalar_one()
            assert pending == 0
            tracked = conn.execute(text(
                "SELECT count(DISTINCT sender_id) FROM events WHERE sender_id = ANY(:ids) AND type_name = 'user'"),
                {"ids": ids}).scalar_one()
            assert tracked == CONVERSATIONS  # Rasa's tracker store is in the same PostgreSQL database
    finally:
        engine.dispose()
