"""The web chat's HTTP contract, against the real server: sessions, messages, history, live events.

The same handlers with an injected clock (a month without use, an identity signed 11 minutes ago,
a ticket a minute old): tests/connectors/test_webchat_sessions.py."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Iterator

import httpx
import pytest

from bot import tokens

BASE = "/webhooks/webchat"
IDENTITY_SECRET = b"test-identity-secret"  # what conftest.start_server puts in WEBCHAT_IDENTITY_SECRET
SESSION_SECRET = b"test-webchat-secret"  # and in WEBCHAT_SECRET
DAY = 86400


@pytest.fixture(scope="module")
def client(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url(BASE), timeout=60, trust_env=False) as http:  # localhost: no proxy
        yield http


def new_token(client: httpx.Client) -> str:
    response = client.post("/session", json={})
    assert response.status_code == 200, response.text
    return response.json()["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def forged(token: str) -> str:
    """The same MAC on another session id: what someone guessing a session would try."""
    session_id, stamp, mac = token.rsplit(".", 2)
    return f"{session_id[:-1]}{'A' if session_id[-1] != 'A' else 'B'}.{stamp}.{mac}"


def altered_mac(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def say(client: httpx.Client, token: str, text: str, **extra) -> dict:
    response = client.post("/webhook", headers=bearer(token), json={"text": text, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def history(client: httpx.Client, token: str) -> list[dict]:
    response = client.get("/history", headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def identity_signature(value: str) -> str:
    return hmac.new(IDENTITY_SECRET, value.encode(), hashlib.sha256).hexdigest()


def signed_identity(user_id: str, email: str = "", age: float = 0, **extra) -> dict:
    """What the site's server puts in the page: `user_id|email|ts` signed, `ts` its clock."""
    ts = int(time.time() - age)
    return {"user_id": user_id, "ts": ts, "signature": identity_signature(f"{user_id}|{email}|{ts}"),
            **({"email": email} if email else {}), **extra}


def ticket(client: httpx.Client, token: str) -> str:
    """A single-use ticket for the live stream, bought with the token in a header."""
    response = client.post("/ticket", headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()["ticket"]


# -- sessions -------------------------------------------------------------------------------------
def test_a_new_session_gets_a_token_that_renews_as_itself(client: httpx.Client) -> None:
    token = new_token(client)
    assert tokens.session_address(token) != tokens.session_address(new_token(client))  # every browser its own
    renewed = client.post("/session", json={"token": token})
    assert renewed.status_code == 200
    assert tokens.session_address(renewed.json()["token"]) == tokens.session_address(token)


def test_a_session_unused_for_a_month_is_refused_with_a_clear_401(client: httpx.Client) -> None:
    """WEBCHAT_SESSION_DAYS is 30 on this server; a token last renewed 31 days ago is over."""
    token = new_token(client)
    say(client, token, "hola")
    stale = tokens.sign_session(tokens.session_address(token), SESSION_SECRET, now=time.time() - 31 * DAY)
    expired = {"error": "session expired; open a new session"}
    for answer in (client.post("/webhook", headers=bearer(stale), json={"text": "hola"}),
                   client.get("/history", headers=bearer(stale)), client.post("/ticket", headers=bearer(stale)),
                   client.post("/session", json={"token": stale})):
        assert (answer.status_code, answer.json()) == (401, expired)
    # Used 29 days ago it still works, and comes back renewed.
    used = tokens.sign_session(tokens.session_address(token), SESSION_SECRET, now=time.time() - 29 * DAY)
    assert [m["text"] for m in history(client, used)][0] == "hola"
    renewed = client.post("/session", json={"token": used}).json()["token"]
    assert tokens.verify_session(renewed, SESSION_SECRET, 30 * DAY).issued_at >= time.time() - 60


@pytest.mark.parametrize("tamper", [forged, altered_mac], ids=["forged-id", "altered-mac"])
def test_a_tampered_token_is_not_renewed(client: httpx.Client, tamper) -> None:
    response = client.post("/session", json={"token": tamper(new_token(client))})
    assert response.status_code == 401


@pytest.mark.parametrize("tamper", [forged, altered_mac], ids=["forged-id", "altered-mac"])
def test_a_tampered_token_is_refused_by_every_route(client: httpx.Client, tamper) -> None:
    token = new_token(client)
    say(client, token, "hola")  # the genuine session has a conversation to steal
    bad = tamper(token)
    assert client.post("/webhook", headers=bearer(bad), json={"text": "hola"}).status_code == 401
    assert client.get("/history", headers=bearer(bad)).status_code == 401
    assert client.post("/ticket", headers=bearer(bad)).status_code == 401


def test_no_token_is_refused(client: httpx.Client) -> None:
    assert client.post("/webhook", json={"text": "hola"}).status_code == 401
    assert client.get("/history").status_code == 401
    assert client.post("/ticket").status_code == 401
    assert client.get("/events").status_code == 401


def test_the_session_token_is_never_read_from_a_url(client: httpx.Client) -> None:
    """URLs end up in proxies' and servers' logs: a token there must be worth nothing."""
    token = new_token(client)
    say(client, token, "hola")
    assert client.get("/history", params={"token": token}).status_code == 401
    assert client.get("/events", params={"token": token}).status_code == 401
    assert client.get("/events", params={"ticket": token}).status_code == 401


# -- malformed and oversized messages -------------------------------------------------------------
def test_malformed_json_is_a_400(client: httpx.Client) -> None:
    token = new_token(client)
    response = client.post(
        "/webhook", headers={**bearer(token), "Content-Type": "application/json"}, content=b'{"text": "hola"'
    )
    assert response.status_code == 400
    assert history(client, token) == []


@pytest.mark.parametrize("body", ['["hola"]', '"hola"', "null", "42"])
def test_json_that_is_not_an_object_is_a_400(client: httpx.Client, body: str) -> None:
    token = new_token(client)
    response = client.post(
        "/webhook", headers={**bearer(token), "Content-Type": "application/json"}, content=body.encode()
    )
    assert response.status_code == 400


def test_text_and_payload_must_be_strings(client: httpx.Client) -> None:
    token = new_token(client)
    assert client.post("/webhook", headers=bearer(token), json={"text": 5}).status_code == 400
    response = client.post("/webhook", headers=bearer(token), json={"text": "hola", "payload": {"a": 1}})
    assert response.status_code == 400


def test_text_over_4096_characters_is_a_413_and_not_stored(client: httpx.Client) -> None:
    token = new_token(client)
    response = client.post("/webhook", headers=bearer(token), json={"text": "x" * 4097})
    assert response.status_code == 413
    assert history(client, token) == []
    accepted = say(client, token, "x" * 4096)  # the limit itself is allowed
    assert [m["text"] for m in history(client, token) if m["id"] == accepted["message_id"]] == ["x" * 4096]


# -- messages and history --------------------------------------------------------------------------
def test_history_returns_what_was_said_oldest_first(client: httpx.Client) -> None:
    token = new_token(client)
    assert history(client, token) == []
    answer = say(client, token, "hola")
    assert answer["replies"], answer
    assert any("asistente virtual" in r["text"] for r in answer["replies"])

    messages = history(client, token)
    ids = [m["id"] for m in messages]
    assert ids == sorted(ids)
    assert ids == [answer["message_id"]] + [r["id"] for r in answer["replies"]]
    first = messages[0]
    assert (first["direction"], first["author"], first["channel"]) == ("in", "customer", "webchat")
    assert first["text"] == "hola"
    assert all(m["direction"] == "out" and m["author"] == "bot" for m in messages[1:])
    assert messages[1:] == answer["replies"]  # the reply and the history show the same message


def test_answers_and_history_tell_the_conversations_language(client: httpx.Client) -> None:
    """The widget shows its own words in the language the assistant speaks in this conversation."""
    token = new_token(client)
    assert client.get("/history", headers=bearer(token)).json() == {"messages": [], "language": None}
    assert say(client, token, "hola")["language"] == "es"
    assert say(client, token, "ok")["language"] == "es"  # no evidence either way: the language stays
    answer = say(client, token, "hello, where is my order?")
    assert answer["language"] == "en"
    assert not any("asistente virtual" in r["text"] for r in answer["replies"])
    assert client.get("/history", headers=bearer(token)).json()["language"] == "en"
    assert say(client, token, "hola, ¿dónde está mi pedido?")["language"] == "es"
    assert client.get("/history", headers=bearer(token)).json()["language"] == "es"


def test_sessions_do_not_see_each_other(client: httpx.Client) -> None:
    mine, theirs = new_token(client), new_token(client)
    say(client, mine, "hola")
    assert history(client, theirs) == []


def test_the_same_client_id_twice_is_processed_once(client: httpx.Client) -> None:
    token = new_token(client)
    client_id = str(uuid.uuid4())
    first = say(client, token, "hola", client_id=client_id)
    assert first["replies"]
    second = say(client, token, "hola", client_id=client_id)
    assert second == {"status": "duplicate"}

    messages = history(client, token)
    assert [m["id"] for m in messages if m["direction"] == "in"] == [first["message_id"]]
    assert [m["id"] for m in messages if m["direction"] == "out"] == [r["id"] for r in first["replies"]]
    # Another client_id is another message, even with the same words.
    third = say(client, token, "hola", client_id=str(uuid.uuid4()))
    assert third["message_id"] != first["message_id"]


def test_a_client_id_is_scoped_to_its_session(client: httpx.Client) -> None:
    client_id = str(uuid.uuid4())
    one = say(client, new_token(client), "hola", client_id=client_id)
    other = say(client, new_token(client), "hola", client_id=client_id)
    assert "message_id" in one and "message_id" in other
    assert one["message_id"] != other["message_id"]


# -- signed identity -------------------------------------------------------------------------------
def test_a_signed_identity_gets_a_working_session(client: httpx.Client) -> None:
    user_id = f"u-{uuid.uuid4().hex[:8]}"
    email = f"{user_id}@ejemplo.mx"  # unique: a seeded contact's email would join that contact
    identity = signed_identity(user_id, email, name="Laura Gómez")
    response = client.post("/session", json={"identity": identity})
    assert response.status_code == 200, response.text
    token = response.json()["token"]
    answer = say(client, token, "hola")
    assert answer["replies"]
    # The same user signing in again (another device) lands in the same conversation.
    again = client.post("/session", json={"identity": identity}).json()["token"]
    assert [m["id"] for m in history(client, again)][0] == answer["message_id"]


def test_an_identity_without_email_signs_the_user_id_alone(client: httpx.Client) -> None:
    user_id = f"u-{uuid.uuid4().hex[:8]}"
    assert client.post("/session", json={"identity": signed_identity(user_id)}).status_code == 200


def test_an_identity_signed_more_than_ten_minutes_ago_is_refused_with_a_clear_401(client: httpx.Client) -> None:
    user_id = f"u-{uuid.uuid4().hex[:8]}"
    stale = client.post("/session", json={"identity": signed_identity(user_id, age=11 * 60)})
    assert stale.status_code == 401 and "token" not in stale.json()
    assert stale.json()["error"] == "identity signature expired: ts is more than 10 minutes old; sign it again"
    ahead = client.post("/session", json={"identity": signed_identity(user_id, age=-10 * 60)})
    assert ahead.status_code == 401 and "in the future" in ahead.json()["error"]
    # Without `ts` (how sites signed before): a 400 that names what is missing.
    unstamped = {"user_id": user_id, "signature": identity_signature(user_id)}
    assert client.post("/session", json={"identity": unstamped}).status_code == 400


@pytest.mark.parametrize(
    "identity",
    [
        {**signed_identity("u-1"), "signature": "0" * 64},
        # A genuine signature of the user id, with an email it does not cover: the email is bound.
        {**signed_identity("u-1"), "email": "otro@ejemplo.mx"},
        {**signed_identity("u-1"), "user_id": "u-2"},
    ],
    ids=["wrong-signature", "unsigned-email", "another-user"],
)
def test_a_wrong_identity_signature_is_refused(client: httpx.Client, identity: dict) -> None:
    response = client.post("/session", json={"identity": identity})
    assert response.status_code == 401
    assert "token" not in response.json()


def test_an_identity_without_signature_is_a_400(client: httpx.Client) -> None:
    assert client.post("/session", json={"identity": {"user_id": "u-1"}}).status_code == 400


# -- live events -----------------------------------------------------------------------------------
def sse_events(lines: Iterator[str], timeout: float) -> Iterator[dict]:
    """Parses a text/event-stream into {"id", "event", "data"} dicts; comments are skipped."""
    deadline = time.monotonic() + timeout
    event: dict[str, str] = {}
    for line in lines:
        assert time.monotonic() < deadline, "the event stream did not deliver in time"
        if line == "":
            if "data" in event:
                yield event
            event = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            event[field] = event[field] + "\n" + value if field == "data" and field in event else value


def test_events_deliver_the_message_and_its_replies(client: httpx.Client) -> None:
    token = new_token(client)
    with client.stream("GET", "/events", params={"ticket": ticket(client, token)}) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines).startswith(":")  # the server's hello, before any conversation exists
        answer = say(client, token, "hola")  # the events wait in the socket meanwhile
        expected = [answer["message_id"]] + [r["id"] for r in answer["replies"]]
        received = []
        for event in sse_events(lines, timeout=30):
            assert event["event"] == "message"
            message = json.loads(event["data"])
            assert event["id"] == str(message["id"])
            received.append(message)
            if len(received) == len(expected):
                break
    assert [m["id"] for m in received] == expected
    assert received[0]["direction"] == "in" and received[0]["text"] == "hola"
    assert received[1:] == answer["replies"]


def test_events_resume_after_the_last_seen_message(client: httpx.Client) -> None:
    token = new_token(client)
    answer = say(client, token, "hola")
    later = say(client, token, "gracias")
    expected = [later["message_id"]] + [r["id"] for r in later["replies"]]
    resume_after = answer["replies"][-1]["id"]
    with client.stream("GET", "/events", params={"ticket": ticket(client, token), "after": resume_after}) as stream:
        received = []
        for event in sse_events(stream.iter_lines(), timeout=30):
            received.append(int(event["id"]))
            if len(received) == len(expected):
                break
    assert received == expected


def test_events_refuse_a_non_numeric_resume_point(client: httpx.Client) -> None:
    assert client.get("/events", params={"ticket": ticket(client, new_token(client)), "after": "x"}).status_code == 400


def test_a_stream_ticket_opens_one_stream_once(client: httpx.Client) -> None:
    token = new_token(client)
    answer = client.post("/ticket", headers=bearer(token))
    assert answer.status_code == 200 and answer.json()["expires_in"] == 60
    once = answer.json()["ticket"]
    with client.stream("GET", "/events", params={"ticket": once}) as stream:
        assert stream.status_code == 200
        assert next(stream.iter_lines()).startswith(":")  # connected
    replayed = client.get("/events", params={"ticket": once})  # from a log, or a second tab
    assert replayed.status_code == 401 and "stream ticket" in replayed.json()["error"]
    assert ticket(client, token) != once  # each stream its own
