"""`POST /api/v1/order-events`: signed on the raw bytes, off without its secret, clear 4xx for what is
not an event of a known order, a replay answered 200 and nothing more.

The handler is called directly for each case; one real Sanic server, registered the way `rasa run`
registers credentials.yml's entries, shows the route where the ERP calls it. A database of this
module's own keeps the events (and their notice jobs) away from the session's servers.
"""
from __future__ import annotations

import json
import os
import uuid
from types import SimpleNamespace
from typing import Any, Iterator, Optional

import pytest
from rasa.core.channels.channel import register
from sanic import Sanic
from sqlalchemy import func, select

from bot import config
from bot.db import session_scope
from bot.hub import get_hub
from bot.store.models import Job
from bot.store.notices import NOTICE_JOB, Notice, OrderEventRow
from ops import notices as operator_notices
from ops import seed
from ops.order_events import OrderEventsInput, receive, sign
from tests.helpers import temporary_database

SECRET = "test-order-events-secret"


@pytest.fixture(scope="module")
def erp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A seeded database of this module's own, the configured one while its tests run."""
    with temporary_database("sqlite", tmp_path_factory.mktemp("order-events")) as url:
        seed.seed(url)
        previous = os.environ["DATABASE_URL"]
        os.environ["DATABASE_URL"] = url
        config.reload()
        try:
            yield url
        finally:
            os.environ["DATABASE_URL"] = previous
            config.reload()


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch, erp: str) -> str:
    monkeypatch.setenv("ORDER_EVENTS_SECRET", SECRET)
    return SECRET


def body(**fields: Any) -> bytes:
    event = {"event_id": f"erp-{uuid.uuid4().hex}", "order_id": "PED-10235", "type": "delayed", "reason": "weather",
             "expected_date": "2026-12-12", **fields}
    return json.dumps(event).encode()


def post(raw: bytes, signature: Optional[str] = "sign") -> Any:
    headers = {} if signature is None else {"x-unisono-signature": sign(raw, SECRET) if signature == "sign" else signature}
    request = SimpleNamespace(body=raw, headers=headers)
    import asyncio

    return asyncio.run(receive(request))  # type: ignore[arg-type]


def stored() -> tuple[int, int, int]:
    """(events, notices, notice jobs) in the store."""
    with session_scope() as session:
        count = lambda query: session.scalar(select(func.count()).select_from(query.subquery()))  # noqa: E731
        return (count(select(OrderEventRow.id)), count(select(Notice.id)),
                count(select(Job.id).where(Job.kind == NOTICE_JOB)))


def answer(response: Any) -> tuple[int, dict]:
    return response.status, json.loads(response.body)


def test_a_signed_event_is_stored_with_its_notice_and_a_replay_does_nothing_more(secret: str) -> None:
    before = stored()
    raw = body()
    assert answer(post(raw))[0] == 202
    after = stored()
    assert after == (before[0] + 1, before[1] + 1, before[2] + 1)
    for _ in range(3):
        assert answer(post(raw)) == (200, {"status": "duplicate", "event_id": json.loads(raw)["event_id"]})
    assert stored() == after
    with session_scope() as session:
        event = session.execute(select(OrderEventRow).order_by(OrderEventRow.id.desc())).scalars().first()
        assert (event.order_id, event.type, event.reason, str(event.expected_date), event.source) == (
            "PED-10235", "delayed", "weather", "2026-12-12", "api")


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "tampered", "unsigned prefix"])
def test_forged_or_unsigned_events_are_401_and_change_nothing(secret: str, signature: Optional[str]) -> None:
    before, raw = stored(), body()
    if signature == "tampered":  # signed, then changed on the way
        signature = sign(raw, SECRET)
        raw = raw.replace(b"PED-10235", b"PED-10240")
    elif signature == "unsigned prefix":
        signature = sign(raw, SECRET)[len("sha256="):]
    assert answer(post(raw, signature)) == (401, {"error": "missing or invalid X-Unisono-Signature"})
    assert stored() == before


@pytest.mark.parametrize("raw, error", [
    (b"{not json", "the body must be JSON"),
    (b"\xff\xfe", "the body must be JSON"),
    (b"[1, 2]", "the body must be a JSON object"),
    (body(type="lost"), "type must be one of delayed, shipped, delivered, ready_for_pickup"),
    (body(event_id=""), "event_id is required"),
    (body(order_id=None), "order_id is required"),
    (body(expected_date="12/12/2026"), "expected_date must be YYYY-MM-DD"),
    (body(reason=["weather"]), "reason must be a string"),
])
def test_what_is_not_an_event_is_400_with_what_is_wrong(secret: str, raw: bytes, error: str) -> None:
    before = stored()
    assert answer(post(raw)) == (400, {"error": error})
    assert stored() == before


def test_an_unknown_order_is_404_and_says_so(secret: str) -> None:
    before = stored()
    assert answer(post(body(order_id="PED-99999"))) == (404, {"error": "unknown order PED-99999"})
    assert stored() == before


def test_without_its_secret_the_endpoint_is_off(monkeypatch: pytest.MonkeyPatch, erp: str) -> None:
    monkeypatch.setenv("ORDER_EVENTS_SECRET", "")
    before = stored()
    assert answer(post(body())) == (404, {"error": "not found"})
    assert stored() == before


def test_the_route_is_at_the_server_root_where_the_erp_calls_it(erp: str) -> None:
    """Registered as `rasa run` registers credentials.yml's entries (under /webhooks/ + its prefix)."""
    app = Sanic(f"order_events_{uuid.uuid4().hex[:8]}")
    register([OrderEventsInput()], app, "/webhooks/")
    routes = {(route.path, tuple(route.methods)) for route in app.router.routes}
    assert ("api/v1/order-events", ("POST",)) in routes
    assert operator_notices.OVERDUE_JOB in get_hub().jobs.handlers  # and the notices are wired in
