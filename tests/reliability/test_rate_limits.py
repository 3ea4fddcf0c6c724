"""Rate limits on the web chat, answered with 429 and Retry-After, and whose X-Forwarded-For counts.

The web chat's handlers run in this process with a stub hub and an injected clock: the limits are
the server's own code (connectors/webchat.py, bot/throttle.py) without a model or a server, and
nothing waits for a window to pass. The limiters' Redis side (shared by replicas) is proved in
tests/bot/test_throttle.py. The test stacks set generous limits (tests/helpers.py), so the load and
replica tests, all on 127.0.0.1, never meet these.
"""
from __future__ import annotations

import ipaddress
from typing import Optional

import pytest

from bot.live import LocalBus
from bot.throttle import Limit, LocalLimiter
from connectors.base import client_ip
from connectors.webchat import Policy, WebChatInput
from tests.connectors.support import FakeRequest, StubHub, answer_json, bearer

NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def policy(sessions: int = 100, messages_ip: int = 100, messages_session: int = 100, link_codes: int = 100,
           trusted: tuple[str, ...] = ()) -> Policy:
    return Policy(
        session_seconds=30 * 86400,
        sessions_per_ip=Limit("webchat-sessions-ip", sessions, 60),
        messages_per_ip=Limit("webchat-messages-ip", messages_ip, 60),
        messages_per_session=Limit("webchat-messages-session", messages_session, 60),
        link_codes_per_ip=Limit("link-codes-ip", link_codes, 3600),
        trusted_proxies=tuple(ipaddress.ip_network(t) for t in trusted),
    )


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBCHAT_SECRET", "test-webchat-secret")
    monkeypatch.setenv("WEBCHAT_IDENTITY_SECRET", "test-identity-secret")


def channel(rules: Policy, clock: Optional[Clock] = None) -> WebChatInput:
    return WebChatInput(StubHub(), LocalBus(), policy=rules, limiter=LocalLimiter(clock or Clock()), clock=lambda: NOW)


async def new_session(web: WebChatInput, ip: str = "192.0.2.10", headers: Optional[list] = None):
    return await web.session(FakeRequest({}, headers=headers, ip=ip))


async def say(web: WebChatInput, token: str, text: str = "hola", ip: str = "192.0.2.10"):
    return await web.receive(FakeRequest({"text": text}, headers=bearer(token), ip=ip))


def assert_429(answer, retry_after: str) -> None:
    assert answer.status == 429
    assert answer.headers["Retry-After"] == retry_after
    assert "too many" in answer_json(answer)["error"]


async def test_new_sessions_past_the_limit_per_ip_are_a_429_with_retry_after() -> None:
    clock = Clock()
    web = channel(policy(sessions=3), clock)
    tokens = [answer_json(await new_session(web))["token"] for _ in range(3)]
    clock.now += 15
    assert_429(await new_session(web), "45")  # the minute began with the first session
    assert (await new_session(web, ip="192.0.2.11")).status == 200  # another client: its own count
    # Renewing a session one has is not opening one: still served.
    renewed = await web.session(FakeRequest({"token": tokens[0]}, ip="192.0.2.10"))
    assert renewed.status == 200
    # A sign-in counts too (refused here for its signature, once the limit lets it through).
    identity = {"identity": {"user_id": "42", "ts": int(NOW), "signature": "0" * 64}}
    assert_429(await web.session(FakeRequest(identity, ip="192.0.2.10")), "45")
    clock.now += 45
    assert (await new_session(web)).status == 200


async def test_messages_are_limited_per_session_and_per_ip() -> None:
    clock = Clock()
    web = channel(policy(messages_ip=5, messages_session=3), clock)
    mine, theirs = [answer_json(await new_session(web))["token"] for _ in range(2)]
    assert [(await say(web, mine)).status for _ in range(3)] == [200] * 3
    assert_429(await say(web, mine), "60")  # this session's fourth in the minute
    assert (await say(web, theirs)).status == 200  # the IP's fifth
    assert_429(await say(web, theirs), "60")  # the IP's sixth: every session behind it waits
    elsewhere = answer_json(await new_session(web, ip="198.51.100.4"))["token"]
    assert (await say(web, elsewhere, ip="198.51.100.4")).status == 200
    assert len(web.hub.accepted) == 5  # a refused message is not stored
    clock.now += 60
    assert (await say(web, mine)).status == 200


async def test_link_code_attempts_are_limited_per_ip_across_sessions() -> None:
    """Guessing codes from ever new web chat sessions: each session is fresh, the IP is not."""
    web = channel(policy(link_codes=2))
    guesses = [answer_json(await new_session(web))["token"] for _ in range(3)]
    assert (await say(web, guesses[0], "LINK-ABCD2345")).status == 200
    assert (await say(web, guesses[1], "mi código es link-wxyz6789")).status == 200
    assert_429(await say(web, guesses[2], "LINK-QRST2345"), "3600")
    assert (await say(web, guesses[2], "hola")).status == 200  # other messages go on
    other = answer_json(await new_session(web, ip="198.51.100.9"))["token"]
    assert (await say(web, other, "LINK-ABCD2345", ip="198.51.100.9")).status == 200


def forwarded(*hops: str) -> list[tuple[str, str]]:
    return [("X-Forwarded-For", hop) for hop in hops]


async def test_a_trusted_proxys_x_forwarded_for_is_honoured() -> None:
    web = channel(policy(sessions=2, trusted=("10.0.0.0/8",)))
    proxy = "10.0.0.2"
    for _ in range(2):
        assert (await new_session(web, ip=proxy, headers=forwarded("203.0.113.7"))).status == 200
    assert_429(await new_session(web, ip=proxy, headers=forwarded("203.0.113.7")), "60")
    # Another client behind the same proxy has its own count: the proxy itself is not limited.
    assert (await new_session(web, ip=proxy, headers=forwarded("203.0.113.8"))).status == 200


async def test_an_untrusted_peers_x_forwarded_for_is_ignored() -> None:
    web = channel(policy(sessions=2, trusted=("10.0.0.0/8",)))
    answers = [await new_session(web, ip="192.0.2.66", headers=forwarded(f"203.0.113.{i}")) for i in range(4)]
    assert [a.status for a in answers] == [200, 200, 429, 429]  # a new header each time changes nothing
    # And without TRUSTED_PROXIES nobody's header counts, not even from a proxy's address.
    web = channel(policy(sessions=1))
    assert (await new_session(web, ip="10.0.0.2", headers=forwarded("203.0.113.1"))).status == 200
    assert (await new_session(web, ip="10.0.0.2", headers=forwarded("203.0.113.2"))).status == 429


TRUSTED = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.1/32"))


@pytest.mark.parametrize("peer, hops, client", [
    ("192.0.2.1", ["203.0.113.5"], "192.0.2.1"),  # untrusted peer: its header is not read
    ("10.0.0.2", [], "10.0.0.2"),  # a trusted proxy without a header: itself
    ("10.0.0.2", ["203.0.113.5"], "203.0.113.5"),
    ("10.0.0.2", ["198.51.100.1, 203.0.113.5"], "203.0.113.5"),  # the client wrote the left part
    ("10.0.0.2", ["198.51.100.1", "203.0.113.5, 10.0.0.3"], "203.0.113.5"),  # two headers, two proxies
    ("127.0.0.1", ["not-an-ip, 203.0.113.5"], "203.0.113.5"),
    ("127.0.0.1", ["10.0.0.3, nonsense"], "127.0.0.1"),  # garbage the proxy would never write
    ("::ffff:10.0.0.2", ["2001:db8::7"], "2001:db8::7"),
], ids=["untrusted", "no-header", "one-hop", "spoofed-left", "two-headers", "garbage-left",
        "garbage-right", "ipv4-mapped-peer"])
def test_the_client_ip_is_the_nearest_address_no_trusted_proxy_vouches_for(peer, hops, client) -> None:
    assert client_ip(FakeRequest(ip=peer, headers=forwarded(*hops)), TRUSTED) == client


def test_the_default_limits_are_set_and_the_settings_override_them(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RATE_LIMIT_SESSIONS_PER_IP", "RATE_LIMIT_MESSAGES_PER_IP", "RATE_LIMIT_MESSAGES_PER_SESSION",
                 "RATE_LIMIT_LINK_CODES_PER_IP", "TRUSTED_PROXIES", "WEBCHAT_SESSION_DAYS"):
        monkeypatch.setenv(name, "")
    defaults = Policy.from_env()
    assert (defaults.sessions_per_ip.count, defaults.messages_per_ip.count, defaults.messages_per_session.count,
            defaults.link_codes_per_ip.count) == (30, 120, 30, 20)
    assert defaults.trusted_proxies == () and defaults.session_seconds == 30 * 86400
    monkeypatch.setenv("RATE_LIMIT_MESSAGES_PER_IP", "0")
    monkeypatch.setenv("TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")
    monkeypatch.setenv("WEBCHAT_SESSION_DAYS", "7")
    configured = Policy.from_env()
    assert configured.messages_per_ip.off and configured.session_seconds == 7 * 86400
    assert [str(n) for n in configured.trusted_proxies] == ["127.0.0.1/32", "10.0.0.0/8"]
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, proxy.example.com")
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        Policy.from_env()
    monkeypatch.setenv("TRUSTED_PROXIES", "")
    monkeypatch.setenv("RATE_LIMIT_SESSIONS_PER_IP", "many")
    with pytest.raises(ValueError, match="RATE_LIMIT_SESSIONS_PER_IP"):
        Policy.from_env()
