"""Three replicas behind HAProxy, one PostgreSQL, one Redis: nothing lost, nothing twice, in order.

One cluster (ops.cluster.Cluster: an action server, three `rasa run` replicas, Debian's HAProxy)
serves the module, on a throw-away PostgreSQL schema and Redis, with WhatsApp, Telegram, web chat
and Slack pointed at the loopback fakes. Starting it loads the model three times (a few minutes on
2 cores), paid once.

The load: REPLICA_LOAD_CONTACTS contacts (default 150) × 5 messages through the balancer, signed
as each provider signs, from a pool of workers; every third contact writes on WhatsApp and
Telegram at once (its Telegram chat shared the WhatsApp phone as its own contact first: one contact,
one conversation). One replica is SIGKILLed mid-run; requests that got a 5xx or no answer are sent
again as providers do (same MessageSid / update_id / client_id). Once the store has settled, the
stored turn times, the replies' `reply_to` and the fakes' records must show: no message lost, no
reply sent twice, each conversation's turns in order and never two at once. Run with -s for figures.
"""
from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import httpx
import pytest
from sqlalchemy import func, select

from bot.db import session_scope
from bot.store.models import Job, Message
from ops import seed
from ops.cluster import Cluster, ClusterError, haproxy_binary, port_in_use
from tests.connectors.slack_fake import action_body, rendered, signed_headers
from tests.connectors.support import (
    BUSINESS_NUMBER,
    PUBLIC_URL,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    TWILIO_SID,
    TWILIO_TOKEN,
    random_mobile,
    wait_until,
)
from tests.helpers import GENEROUS_RATE_LIMITS, PROVIDER_VARIABLES, _reachable_pg, free_port, temporary_database
from tests.reliability.clients import (
    AGENTS,
    SLACK,
    SLACK_SECRET,
    TELEGRAM,
    WEBCHAT,
    WEDNESDAY_11AM,
    WHATSAPP,
    Store,
    message_update,
    signature,
    twilio_params,
)

pytestmark = [pytest.mark.load, pytest.mark.model]

REDIS = os.environ.get("UNISONO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CONTACTS = int(os.environ.get("REPLICA_LOAD_CONTACTS") or 150)
WORKERS = int(os.environ.get("REPLICA_LOAD_WORKERS") or 24)
VICTIM = 1  # the replica SIGKILLed mid-run
REMINDER_MINUTES = 0.2  # 12 s: the unclaimed hand-off's one reminder comes within the test
SCRIPT = ["hola", "¿cuál es su horario de atención?", "¿hacen envíos a Mérida?", "¿qué formas de pago aceptan?",
          "muchas gracias"]


# -- the cluster ------------------------------------------------------------------------------------
def _skip_without_services() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping()
    except Exception as exc:
        pytest.skip(f"Redis is not reachable at {REDIS} ({exc}); set UNISONO_TEST_REDIS_URL to use another")
    if _reachable_pg()[0] is None:
        pytest.skip("PostgreSQL is not reachable (127.0.0.1:5432/test or UNISONO_TEST_PG_URL)")
    try:
        haproxy_binary()
    except ClusterError as error:
        pytest.fail(f"{error} (make test installs it)", pytrace=False)


def _ports() -> tuple[int, int, int]:
    base = free_port()
    while any(port_in_use(base + i) for i in range(1, 3)):
        base = free_port()
    return free_port(), base, free_port()


def _env(database_url: str, fakes: Any) -> dict[str, str]:
    return {
        **{name: "" for name in PROVIDER_VARIABLES}, "NO_PROXY": "127.0.0.1,localhost",
        **GENEROUS_RATE_LIMITS, "DATABASE_URL": database_url, "REDIS_URL": REDIS, "RASA_API_TOKEN": "",
        "WEBCHAT_SECRET": "test-webchat-secret", "WEBCHAT_IDENTITY_SECRET": "test-identity-secret",
        "PUBLIC_URL": PUBLIC_URL, "TWILIO_ACCOUNT_SID": TWILIO_SID, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_WHATSAPP_NUMBER": BUSINESS_NUMBER, "TWILIO_API_BASE_URL": fakes.twilio.url,
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN, "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_BASE_URL": fakes.telegram_gate.url + "/bot",
        "SLACK_BOT_TOKEN": fakes.slack.token, "SLACK_SIGNING_SECRET": SLACK_SECRET, "SLACK_AGENT_CHANNEL": AGENTS,
        "SLACK_API_BASE_URL": fakes.slack.base_url, "HANDOFF_NOW": WEDNESDAY_11AM,
        "HANDOFF_REMINDER_MINUTES": str(REMINDER_MINUTES),
    }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, fakes: Any) -> Iterator[Cluster]:
    from ops.training import is_current

    _skip_without_services()
    if not is_current():
        pytest.fail("the trained model is missing or stale: run `make train` (make test does it)")
    workdir: Path = tmp_path_factory.mktemp("replicas")
    with temporary_database("postgresql", workdir) as database_url:
        seed.seed(database_url)
        port, base, actions = _ports()
        instance = Cluster(3, port, _env(database_url, fakes), workdir, base_port=base, action_port=actions)
        started = time.monotonic()
        instance.start()
        try:
            instance.wait_ready(timeout=480)
            print(f"\nREPLICAS cluster of 3 ready in {time.monotonic() - started:.0f} s (logs in {workdir})")
            yield instance
        finally:
            instance.stop()


# -- sending, as providers and browsers do ----------------------------------------------------------
def post_until_taken(send: Callable[[], httpx.Response], tries: int = 120) -> int:
    """A provider's retries: the same request again after a 5xx or no answer; the final status."""
    for _ in range(tries):
        try:
            answer = send()
        except httpx.HTTPError:
            time.sleep(1.0)
            continue
        if answer.status_code < 500:
            return answer.status_code
        time.sleep(1.0)
    raise AssertionError(f"no answer below 500 after {tries} tries")


@dataclass
class Contact:
    index: int
    channels: list[str]
    phone: str = ""
    chat: int = 0
    web_token: str = ""
    sent: list[tuple[str, str]] = field(default_factory=list)  # (channel, provider message id), as sent
    statuses: list[int] = field(default_factory=list)

    def address(self, channel: str) -> str:
        return {"whatsapp": self.phone, "telegram": str(self.chat), "webchat": self.web_token.rsplit(".", 2)[0]}[channel]


class Load:
    """Sends the contacts' messages through the balancer; retries like providers do."""

    def __init__(self, cluster: Cluster) -> None:
        self.url = cluster.url
        self.client = httpx.Client(timeout=120, trust_env=False,
                                   limits=httpx.Limits(max_connections=4 * WORKERS, max_keepalive_connections=2 * WORKERS))
        self.lock = threading.Lock()
        self.sent = 0

    def _record(self, contact: Contact, channel: str, provider_id: str, status: int) -> None:
        with self.lock:
            contact.sent.append((channel, provider_id))
            contact.statuses.append(status)
            self.sent += 1

    def whatsapp(self, contact: Contact, text: str) -> None:
        params = twilio_params(contact.phone, text)
        headers = {"X-Twilio-Signature": signature(WHATSAPP, params)}
        status = post_until_taken(lambda: self.client.post(self.url + WHATSAPP, data=params, headers=headers))
        self._record(contact, "whatsapp", params["MessageSid"], status)

    def telegram(self, contact: Contact, text: Optional[str], shared: Optional[dict] = None) -> None:
        update = message_update(contact.chat, text, **({"contact": shared} if shared else {}))
        headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
        status = post_until_taken(lambda: self.client.post(self.url + TELEGRAM, json=update, headers=headers))
        self._record(contact, "telegram", str(update["update_id"]), status)

    def webchat(self, contact: Contact, text: str, k: int) -> None:
        if not contact.web_token:
            session: dict[str, Any] = {}

            def new_session() -> httpx.Response:
                answer = self.client.post(self.url + WEBCHAT + "/session", json={})
                session.update(answer.json() if answer.status_code == 200 else {})
                return answer

            assert post_until_taken(new_session) == 200
            contact.web_token = session["token"]
        client_id = f"replicas-{contact.index}-{k}"
        headers = {"Authorization": f"Bearer {contact.web_token}"}
        status = post_until_taken(lambda: self.client.post(
            self.url + WEBCHAT + "/webhook", json={"text": text, "client_id": client_id}, headers=headers))
        self._record(contact, "webchat", f"{contact.address('webchat')}:{client_id}", status)

    def run(self, contact: Contact) -> None:
        """Five messages; a contact on two channels sends its Telegram ones while its WhatsApp ones go."""
        if contact.channels == ["webchat"]:
            for k, text in enumerate(SCRIPT):
                self.webchat(contact, text, k)
            return
        if contact.channels == ["telegram"]:
            for text in SCRIPT:
                self.telegram(contact, text)
            return
        self.whatsapp(contact, SCRIPT[0])
        if contact.channels == ["whatsapp"]:
            for text in SCRIPT[1:]:
                self.whatsapp(contact, text)
            return
        # Two channels at once: Telegram shares the contact's own phone (verified: the same contact),
        # then each channel goes on by itself.
        share = {"phone_number": contact.phone.lstrip("+"), "first_name": "Cliente", "user_id": contact.chat}
        with ThreadPoolExecutor(max_workers=1) as side:
            telegram = side.submit(lambda: (self.telegram(contact, None, shared=share), self.telegram(contact, SCRIPT[3])))
            for text in (SCRIPT[2], SCRIPT[4]):
                self.whatsapp(contact, text)
            telegram.result()  # its failure is the test's


def make_contacts(count: int) -> list[Contact]:
    kinds = [["whatsapp", "telegram"], ["whatsapp"], ["telegram"], ["webchat"], ["whatsapp", "telegram"], ["webchat"]]
    contacts = []
    for i in range(count):
        contact = Contact(i, kinds[i % len(kinds)])
        contact.phone = random_mobile()
        contact.chat = 100_000_000 + uuid.uuid4().int % 899_999_999
        contacts.append(contact)
    return contacts


# -- reading the outcome ----------------------------------------------------------------------------
def settled(url: str) -> Optional[dict[str, int]]:
    """Nothing left to do anywhere: no inbound `received`, no reply `pending`, no inbound/deliver job."""
    with session_scope(url) as session:
        received = session.execute(select(func.count(Message.id)).where(
            Message.direction == "in", Message.delivery_status == "received")).scalar()
        pending = session.execute(select(func.count(Message.id)).where(
            Message.direction == "out", Message.delivery_status == "pending")).scalar()
        jobs = session.execute(select(func.count(Job.id)).where(Job.kind.in_(("inbound", "deliver")))).scalar()
    left = {"received": received, "pending": pending, "jobs": jobs}
    return None if any(left.values()) else left


def wait_settled(url: str, timeout: float) -> None:
    deadline, left = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        if settled(url):
            return
        time.sleep(1.0)
    with session_scope(url) as session:
        left = session.execute(select(Job.kind, Job.claimed_by, Job.attempts, Job.last_error)).all()[:10]
    raise AssertionError(f"the store did not settle within {timeout} s; jobs left: {left}")


def claims_of(url: str, owner: str) -> list[tuple[str, str]]:
    """(kind, ref) of the work `owner` held: what its death left for others to take over."""
    with session_scope(url) as session:
        return [tuple(row) for row in session.execute(
            select(Job.kind, Job.ref).where(Job.claimed_by == owner, Job.kind.in_(("inbound", "deliver"))))]


def conversation_of(store: Store, contact: Contact) -> tuple[Optional[str], list[str]]:
    """The contact's one conversation id, and a problem for each channel that landed elsewhere."""
    ids = {channel: getattr(store.conversation_of(channel, contact.address(channel)), "id", None)
           for channel in contact.channels}
    problems = [f"contact {contact.index}: {ids}"] if len(set(ids.values())) != 1 or None in ids.values() else []
    return next(iter(ids.values())), problems


def delivered(fakes: Any, channel: str, address: str) -> list[str]:
    """Provider ids of what the fake provider accepted for `address` (one per provider call)."""
    if channel == "whatsapp":
        return [call.result["sid"] for call in fakes.twilio.sent_to(address)]
    return [f"{address}:{call.result['message_id']}" for call in fakes.telegram.sent_to(int(address))]


def unrecorded(fakes: Any, channel: str, address: str, stored: list[str]) -> list[tuple[str, str, float]]:
    """What the provider got that the store does not know it sent: (id, text, when, on our clock)."""
    calls = fakes.twilio.sent_to(address) if channel == "whatsapp" else fakes.telegram.sent_to(int(address))
    ids = delivered(fakes, channel, address)
    return [(pid, (c.params.get("Body") or c.params.get("text") or "")[:30], round(c.at, 2))
            for pid, c in zip(ids, calls) if pid not in stored]


def parts(reply: Message) -> list[str]:
    return list(reply.sent_parts or []) or [reply.provider_message_id or f"reply-{reply.id}"]


def check_messages(contact: Contact, messages: list[Message]) -> list[str]:
    """Each message sent stored once, processed, answered by ≥ 1 sent reply."""
    where, problems = f"contact {contact.index} {contact.channels}", []
    inbound = [m for m in messages if m.direction == "in"]
    stored = Counter((m.channel, m.provider_message_id) for m in inbound)
    if stored != Counter(contact.sent):
        problems.append(f"{where}: stored {sorted(stored.items())} but sent {contact.sent}")
    if any(s != 200 for s in contact.statuses):
        problems.append(f"{where}: final statuses {contact.statuses}")
    replies = [m for m in messages if m.direction == "out"]
    for message in inbound:
        answers = [r for r in replies if r.reply_to == message.id]
        if message.delivery_status != "processed" or not answers or any(r.delivery_status != "sent" for r in answers):
            problems.append(f"{where}: message {message.id} {message.delivery_status}, replies "
                            f"{[(r.id, r.delivery_status, r.error) for r in answers]}")
    if any(r.delivery_status != "sent" for r in replies):
        problems.append(f"{where}: replies {[(r.id, r.delivery_status, r.error) for r in replies]}")
    return problems


def check_order(contact: Contact, messages: list[Message]) -> list[str]:
    """Turns in stored order, never two at once; replies follow the messages they answer."""
    where, problems = f"contact {contact.index}", []
    inbound = [m for m in messages if m.direction == "in"]
    starts = [m.turn_started_at for m in inbound]
    if None in starts or any(m.turn_ended_at is None for m in inbound):
        return [f"{where}: a turn without start or end {[(m.id, m.turn_started_at, m.turn_ended_at) for m in inbound]}"]
    if starts != sorted(starts) or len(set(starts)) != len(starts):
        problems.append(f"{where}: turns out of stored order {[(m.id, str(m.turn_started_at)) for m in inbound]}")
    turns = sorted((m.turn_started_at, m.turn_ended_at, m.id) for m in inbound)
    for (_, end, first), (start, _, second) in zip(turns, turns[1:]):
        if start < end:
            problems.append(f"{where}: turns of {first} and {second} overlap ({start} < {end})")
    answered = [m.reply_to for m in messages if m.direction == "out" and m.reply_to is not None]
    if answered != sorted(answered):
        problems.append(f"{where}: replies out of order, reply_to along reply ids {answered}")
    return problems


def check_deliveries(fakes: Any, contact: Contact, messages: list[Message], crash: tuple[float, float],
                     resent: list[str]) -> list[str]:
    """Per WhatsApp number / Telegram chat: provider calls == stored sent parts, none twice.

    One exception, which no provider without idempotency keys lets anyone close: a reply the
    victim handed to the provider in the last moment before its SIGKILL, dying before it could
    store that it had, is sent again by whoever takes the job over. Such a call (made within
    `crash`, by then only the victim could leave one unrecorded, and the same text as a stored sent
    reply) is listed in `resent` and reported; any other extra call is a reply sent twice.
    """
    problems = []
    for channel in (c for c in contact.channels if c != "webchat"):
        address = contact.address(channel)
        replies = [m for m in messages if m.direction == "out" and m.channel == channel and m.delivery_status == "sent"]
        stored = [p for m in replies for p in parts(m)]
        calls = delivered(fakes, channel, address)
        extra = unrecorded(fakes, channel, address, stored)
        texts = {(m.text or "")[:30] for m in replies}
        window = [e for e in extra if crash[0] <= e[2] <= crash[1] and e[1] in texts]
        resent += [f"{channel}:{address} {e}" for e in window]
        if len(set(calls)) != len(calls) or Counter(calls) - Counter(stored) != Counter(e[0] for e in window) \
                or Counter(stored) - Counter(calls):
            problems.append(f"contact {contact.index} {channel}:{address}: the provider got {len(calls)} "
                            f"({len(set(calls))} distinct), the store sent {len(stored)}; unrecorded: {extra}, "
                            f"kill window {crash}; stored {[(m.id, m.reply_to, (m.text or '')[:30], str(m.sent_at), parts(m)) for m in replies]}")
    return problems


# -- the tests --------------------------------------------------------------------------------------
def kill_mid_run(cluster: Cluster, load: Load, total: int, outcome: dict[str, Any]) -> None:
    """SIGKILLs the victim once a third of the messages went out; notes what it held then."""
    while load.sent < total // 3:
        time.sleep(0.2)
    outcome["pid"] = cluster.kill(VICTIM)
    outcome["killed_at"] = time.monotonic()  # the fakes' calls are stamped with this clock
    outcome["held"] = claims_of(cluster.env["DATABASE_URL"], f"replica-{VICTIM}")
    outcome["sent_before_kill"] = load.sent


def test_load_with_a_replica_killed_loses_nothing_repeats_nothing_and_keeps_order(cluster: Cluster, fakes: Any) -> None:
    url, store = cluster.env["DATABASE_URL"], Store(cluster.env["DATABASE_URL"])
    contacts = make_contacts(CONTACTS)
    total = 5 * len(contacts)
    load, outcome = Load(cluster), {}
    killer = threading.Thread(target=kill_mid_run, args=(cluster, load, total, outcome), daemon=True)
    started = time.monotonic()
    killer.start()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        list(pool.map(load.run, contacts))
    sent_all = time.monotonic()
    killer.join(timeout=5)
    assert load.sent == total, f"{load.sent} of {total} messages sent"
    assert "pid" in outcome, "the replica was never killed"
    wait_settled(url, timeout=180 + total / 5)
    settled_at = time.monotonic()

    problems: list[str] = []
    resent: list[str] = []  # sent by the victim just before it died, unrecorded, so sent again
    crash = (outcome["killed_at"] - 3.0, outcome["killed_at"])
    by_replica: Counter = Counter()
    restarted = 0
    for contact in contacts:
        conversation_id, wrong = conversation_of(store, contact)
        problems += wrong
        messages = store.conversation_messages(conversation_id) if conversation_id else []
        problems += check_messages(contact, messages) + check_order(contact, messages)
        problems += check_deliveries(fakes, contact, messages, crash, resent)
        for message in (m for m in messages if m.direction == "in"):
            by_replica[message.processed_by] += 1
    held_inbound = {int(ref) for kind, ref in outcome["held"] if kind == "inbound"}
    held_replies = {int(ref) for kind, ref in outcome["held"] if kind == "deliver"}
    with session_scope(url) as session:
        recovered = session.execute(select(func.count(Message.id)).where(
            Message.id.in_(held_inbound | held_replies),
            Message.delivery_status.in_(("processed", "sent")))).scalar()
        restarted = session.execute(select(func.count(Message.id)).where(
            Message.direction == "in", Message.processed_by == f"replica-{VICTIM}",
            Message.turn_started_at > _utc_of(outcome["killed_at"]))).scalar()
    figures = {
        "contacts": len(contacts), "messages": total, "two_channel_contacts": sum(len(c.channels) == 2 for c in contacts),
        "send_s": round(sent_all - started, 1), "settle_s": round(settled_at - started, 1),
        "msgs_per_s": round(total / (settled_at - started), 2), "killed_after_sent": outcome["sent_before_kill"],
        "victim_held": {"inbound": len(held_inbound), "deliver": len(held_replies)}, "recovered": recovered,
        "processed_by_restarted_victim": restarted, "per_replica": dict(sorted(by_replica.items(), key=str)),
        "resent_after_the_kill_window": resent, "problems": len(problems),
    }
    print("\nREPLICAS LOAD " + json.dumps(figures))
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:25])
    assert sum(by_replica.values()) == total
    assert recovered + restarted >= 1, f"the kill hit no work: {figures}"


def _utc_of(monotonic: float) -> Any:
    """The store's clock (aware UTC) at a moment of this process's monotonic clock."""
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=time.monotonic() - monotonic)


# -- Slack across replicas --------------------------------------------------------------------------
def hand_off(cluster: Cluster, store: Store, number: str) -> tuple[str, str, str]:
    """A WhatsApp customer asks for a person: (conversation id, thread ts, replica that ran the turn)."""
    params = twilio_params(number, "quiero hablar con un asesor")
    headers = {"X-Twilio-Signature": signature(WHATSAPP, params)}
    assert post_until_taken(lambda: httpx.post(cluster.url + WHATSAPP, data=params, headers=headers, timeout=60)) == 200
    thread = wait_until(lambda: store.thread_of("whatsapp", number), 120, "the hand-off's Slack thread")
    conversation = store.conversation_of("whatsapp", number)
    assert conversation.status == "waiting_agent", conversation.status
    inbound = [m for m in store.messages_of("whatsapp", number) if m.direction == "in"]
    return conversation.id, thread, inbound[-1].processed_by or ""


def in_thread(fakes: Any, thread: str, needle: str) -> list[Any]:
    return [c for c in fakes.slack.of("chat.postMessage", channel=AGENTS) if c.args.get("thread_ts") == thread
            and needle in rendered(c)]


def all_up(cluster: Cluster) -> None:
    """The load test's victim may still be loading its model: every replica answers first."""
    cluster.wait_ready(timeout=240)


def test_a_hand_off_is_claimed_through_another_replica_once(cluster: Cluster, fakes: Any) -> None:
    all_up(cluster)
    store, number = Store(cluster.env["DATABASE_URL"]), random_mobile()
    conversation_id, thread, poster = hand_off(cluster, store, number)
    others = [i for i in range(cluster.replicas) if f"replica-{i}" != poster]
    assert len(others) >= 2, f"the hand-off ran on {poster!r}"
    click = action_body(AGENTS, "U0AGENT01", "unisono_claim", conversation_id, thread)
    form = "application/x-www-form-urlencoded"
    for i in others:  # the click on another replica, then the same click again on a third one
        answer = httpx.post(cluster.replica_url(i) + SLACK, content=click.encode(), timeout=30,
                            headers=signed_headers(SLACK_SECRET, click, content_type=form))
        assert answer.status_code == 200, answer.text
        wait_until(lambda: store.conversation_of("whatsapp", number).assigned_agent == "U0AGENT01", 30, "the claim")
    time.sleep(2.0)
    conversation = store.conversation_of("whatsapp", number)
    assert (conversation.status, conversation.assigned_agent) == ("agent", "U0AGENT01")
    assert len(in_thread(fakes, thread, "tomó la conversación")) == 1, "the claim announced other than once"


def test_an_unclaimed_hand_off_gets_one_reminder_with_three_replicas_running(cluster: Cluster, fakes: Any) -> None:
    store = Store(cluster.env["DATABASE_URL"])
    all_up(cluster)
    assert all(cluster.replica(i).alive() for i in range(cluster.replicas))
    _, thread, _ = hand_off(cluster, store, random_mobile())
    wait_until(lambda: in_thread(fakes, thread, "Nadie ha tomado"), 90, "the reminder")
    # Every replica's desk loop passes several times more (every ~6 s) after the reminder was due.
    time.sleep(max(20.0, REMINDER_MINUTES * 60 * 2))
    assert len(in_thread(fakes, thread, "Nadie ha tomado")) == 1
