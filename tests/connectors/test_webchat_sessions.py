"""Web chat sessions that expire without use, identities that expire in minutes, and the live
stream's single-use tickets: the channel's handlers in this process with an injected clock, so a
month passes without waiting. Against the real server: tests/connectors/test_webchat_api.py."""
from __future__ import annotations

from typing import Iterator

import pytest

from bot import tokens
from bot.live import LocalBus
from bot.stream_tickets import DatabaseTickets
from bot.throttle import LocalLimiter
from connectors.webchat import Policy, WebChatInput
from tests.connectors.support import FakeRequest, StubHub, answer_json, bearer

DAY = 86400
NOW = 1_800_000_000.0
EXPIRED = "session expired; open a new session"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBCHAT_SECRET", "test-webchat-secret")
    monkeypatch.setenv("WEBCHAT_IDENTITY_SECRET", "test-identity-secret")
    monkeypatch.setenv("WEBCHAT_SESSION_DAYS", "30")
    for name in ("RATE_LIMIT_SESSIONS_PER_IP", "RATE_LIMIT_MESSAGES_PER_IP", "RATE_LIMIT_MESSAGES_PER_SESSION"):
        monkeypatch.setenv(name, "0")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def web(clock: Clock, database_url: str) -> Iterator[WebChatInput]:
    yield WebChatInput(StubHub(), LocalBus(), policy=Policy.from_env(), limiter=LocalLimiter(),
                       tickets=DatabaseTickets(clock), clock=clock)


async def new_token(web: WebChatInput) -> str:
    return answer_json(await web.session(FakeRequest({})))["token"]


async def test_a_token_unused_for_the_session_lifetime_is_a_401_that_says_so_on_every_route(web, clock) -> None:
    token = await new_token(web)
    clock.now += 30 * DAY + 1
    answers = {
        "webhook": await web.receive(FakeRequest({"text": "hola"}, headers=bearer(token))),
        "history": await web.history(FakeRequest(headers=bearer(token))),
        "ticket": await web.ticket(FakeRequest(headers=bearer(token))),
        "renewal": await web.session(FakeRequest({"token": token})),
    }
    assert {route: (a.status, answer_json(a)) for route, a in answers.items()} == {
        route: (401, {"error": EXPIRED}) for route in answers}
    assert web.hub.accepted == []
    # What the widget does next: a new anonymous session (the old history is not in it).
    fresh = await new_token(web)
    assert tokens.session_address(fresh) != tokens.session_address(token)


async def test_each_use_renews_the_token_so_only_disuse_expires_it(web, clock) -> None:
    token = await new_token(web)
    clock.now += 29 * DAY
    renewed = answer_json(await web.session(FakeRequest({"token": token})))["token"]  # a page load
    assert tokens.session_address(renewed) == tokens.session_address(token) and renewed != token
    clock.now += 29 * DAY  # 58 days after the session began, 29 after its last use
    answer = answer_json(await web.receive(FakeRequest({"text": "hola"}, headers=bearer(renewed))))
    # A token over a day old comes back renewed with the answer (a tab left open for weeks).
    assert tokens.session_address(answer["token"]) == tokens.session_address(token)
    assert tokens.verify_session(answer["token"], b"test-webchat-secret", 30 * DAY, clock.now).issued_at == clock.now
    fresh = answer_json(await web.receive(FakeRequest({"text": "hola"}, headers=bearer(answer["token"]))))
    assert "token" not in fresh  # a fresh token is not renewed on every message


async def test_a_token_without_its_time_from_before_the_upgrade_is_expired(web) -> None:
    legacy = tokens.sign("wLegacy", b"test-webchat-secret")
    answer = await web.receive(FakeRequest({"text": "hola"}, headers=bearer(legacy)))
    assert (answer.status, answer_json(answer)) == (401, {"error": EXPIRED})


def identity(ts: int, user_id: str = "u-42", email: str = "") -> dict:
    signature = tokens.hex_hmac(b"test-identity-secret", f"{user_id}|{email}|{ts}")
    return {"identity": {"user_id": user_id, "ts": ts, "signature": signature, **({"email": email} if email else {})}}


@pytest.mark.parametrize("age, error", [
    (601, "identity signature expired: ts is more than 10 minutes old; sign it again"),
    (-61, "identity ts is in the future; check the signing server's clock"),
])
async def test_a_site_identity_signed_too_long_ago_or_ahead_is_a_401_that_says_so(web, age, error) -> None:
    answer = await web.session(FakeRequest(identity(int(NOW) - age)))
    assert (answer.status, answer_json(answer)) == (401, {"error": error})


@pytest.mark.parametrize("body, error", [
    ({"identity": {"user_id": "u-42", "signature": "0" * 64}}, "identity needs ts"),
    ({"identity": {"user_id": "u-42", "ts": "yesterday", "signature": "0" * 64}}, "identity needs ts"),
    ({"identity": {"user_id": "u-4|2", "ts": int(NOW), "signature": "0" * 64}}, "cannot contain '|'"),
])
async def test_an_identity_without_a_usable_ts_is_a_400(web, body, error) -> None:
    answer = await web.session(FakeRequest(body))
    assert answer.status == 400 and error in answer_json(answer)["error"]


async def test_the_stream_ticket_expires_within_a_minute_and_the_session_token_never_opens_a_stream(web, clock) -> None:
    token = await new_token(web)
    issued = answer_json(await web.ticket(FakeRequest(headers=bearer(token))))
    assert issued["expires_in"] == 60 and issued["ticket"] != token
    clock.now += 61
    late = await web.events(FakeRequest(args={"ticket": issued["ticket"]}))
    assert late.status == 401 and "stream ticket" in answer_json(late)["error"]
    for args in ({"token": token}, {"ticket": token}, {}):  # the long-lived token is no ticket
        assert (await web.events(FakeRequest(args=args, headers=bearer(token)))).status == 401
