"""Forged and replayed requests are refused, and every route of the server is accounted for.

The route inventory builds the Sanic app exactly as `rasa run` does (rasa.core.run.configure_app
with the input channels of credentials.yml and the API on), plus the action server's app, and
fails on any route that is neither verified (mapped to the test proving it) nor public read-only.
"""
from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from pathlib import Path
import pytest
from sqlalchemy import update
from twilio.request_validator import RequestValidator

from bot import linking
from bot.config import ROOT
from bot.db import session_scope
from bot.store.models import LinkCode
from ops import runner
from tests.connectors.slack_fake import action_body, command_body, event_body, message_event, signed_headers
from tests.connectors.support import PUBLIC_URL, TELEGRAM_SECRET, TWILIO_SID, random_mobile, wait_until
from tests.reliability.clients import (
    AGENTS,
    API_TOKEN,
    SLACK,
    SLACK_SECRET,
    TELEGRAM,
    WEBCHAT,
    WHATSAPP,
    WHATSAPP_STATUS,
    Store,
    WebChat,
    message_update,
    new_chat,
    signature,
    telegram,
    texts_to,
    twilio_params,
    wait_for_text,
    whatsapp,
)
from tests.reliability.stack import SplitStack

pytestmark = pytest.mark.model
HERE = Path(__file__).resolve().parent

# -- the inventory ----------------------------------------------------------------------------------
# Every route that does something is verified; the test named proves the refusal (file::test).
VERIFIED: dict[tuple[str, str], str] = {
    ("POST", "/webhooks/whatsapp/webhook"): "test_forgery.py::test_forged_twilio_requests_are_refused_and_change_nothing",
    ("POST", "/webhooks/whatsapp/status"): "test_forgery.py::test_forged_twilio_requests_are_refused_and_change_nothing",
    ("POST", "/webhooks/telegram/webhook"): "test_forgery.py::test_a_wrong_telegram_secret_is_refused_and_changes_nothing",
    ("POST", "/webhooks/slack/webhook"): "test_forgery.py::test_slack_requests_unsigned_badly_signed_or_stale_change_nothing",
    ("POST", "/webhooks/webchat/webhook"): "test_forgery.py::test_a_tampered_web_chat_token_is_refused_everywhere",
    ("GET", "/webhooks/webchat/history"): "test_forgery.py::test_a_tampered_web_chat_token_is_refused_everywhere",
    ("GET", "/webhooks/webchat/events"): "test_forgery.py::test_a_tampered_web_chat_token_is_refused_everywhere",
    ("POST", "/webhooks/webchat/ticket"): "test_forgery.py::test_a_tampered_web_chat_token_is_refused_everywhere",
    # Anyone may open an anonymous session; renewing a token and vouching for a user are verified.
    ("POST", "/webhooks/webchat/session"): "test_forgery.py::test_a_tampered_web_chat_token_is_refused_everywhere",
    # The ERP's order events (ops/order_events.py): signed with ORDER_EVENTS_SECRET, off without it.
    ("POST", "/api/v1/order-events"): "../ops/test_order_events.py::test_forged_or_unsigned_events_are_401_and_change_nothing",
}
RASA_API = [  # Rasa's HTTP API: only served with --enable-api, which ops.runner adds only with a token
    ("GET", "/status"), ("GET", "/domain"), ("POST", "/model/train"), ("POST", "/model/test/stories"),
    ("POST", "/model/test/intents"), ("POST", "/model/predict"), ("POST", "/model/parse"), ("PUT", "/model"),
    ("DELETE", "/model"), ("GET", "/conversations/<conversation_id:path>/tracker"),
    ("POST", "/conversations/<conversation_id:path>/tracker/events"),
    ("PUT", "/conversations/<conversation_id:path>/tracker/events"),
    ("GET", "/conversations/<conversation_id:path>/story"), ("POST", "/conversations/<conversation_id:path>/execute"),
    ("POST", "/conversations/<conversation_id:path>/trigger_intent"),
    ("POST", "/conversations/<conversation_id:path>/predict"),
    ("POST", "/conversations/<conversation_id:path>/messages"),
]
VERIFIED.update({route: "test_forgery.py::test_rasa_api_needs_the_token" for route in RASA_API})
ADMIN_API = [("POST", "/admin/api/sign-in"), ("GET", "/admin/api/kpis"), ("GET", "/admin/api/kpis.csv"),
             ("GET", "/admin/api/open")]  # the KPI area (ops/admin): Bearer ADMIN_TOKEN, 404 without one
VERIFIED.update({route: "../ops/test_admin.py::test_the_api_wants_the_token" for route in ADMIN_API})
ACTION_SERVER_VERIFIED = {  # rasa_sdk has no credentials: it is reachable from this host only
    ("POST", "/webhook"): "test_forgery.py::test_the_action_server_listens_on_loopback_only",
    ("GET", "/actions"): "test_forgery.py::test_the_action_server_listens_on_loopback_only",
}
PUBLIC = {  # read-only and harmless: health checks, the widget's files and demo page, Rasa's hello
    ("GET", "/"), ("GET", "/health"), ("GET", "/version"), ("GET", "/webhooks/webchat"), ("GET", "/webhooks/webchat/widget.js"),
    ("GET", "/webhooks/webchat/widget.css"), ("GET", "/webhooks/webchat/demo"), ("GET", "/webhooks/whatsapp"),
    ("GET", "/webhooks/telegram"), ("GET", "/webhooks/slack"),
    ("GET", "/admin"), ("GET", "/admin/static/<name:path>"),  # the dashboard's page and files: no figures in them
}
ACTION_SERVER_PUBLIC = {("GET", "/health")}


def _routes(app) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes:
        for method in route.methods:
            if method not in ("HEAD", "OPTIONS"):
                found.add((method, "/" + route.path.lstrip("/")))
    return found


def _test_exists(reference: str) -> bool:
    file, _, name = reference.partition("::")
    return re.search(rf"^def {re.escape(name)}\(", (HERE / file).read_text(), re.M) is not None


def test_every_route_is_verified_or_public_read_only(stack: SplitStack) -> None:
    import rasa_sdk.endpoint
    from rasa.core.run import configure_app, create_http_input_channels

    channels = create_http_input_channels(None, str(ROOT / "credentials.yml"))
    app = configure_app(channels, cors="*", auth_token=API_TOKEN, enable_api=True, port=stack.rasa_port)
    routes = _routes(app)
    unaccounted = routes - VERIFIED.keys() - PUBLIC
    assert not unaccounted, f"routes neither verified nor public: {sorted(unaccounted)}"
    assert not (VERIFIED.keys() | PUBLIC) - routes, "the inventory names routes that no longer exist"
    action_routes = _routes(rasa_sdk.endpoint.create_app("actions"))
    assert action_routes == ACTION_SERVER_VERIFIED.keys() | ACTION_SERVER_PUBLIC
    for reference in {*VERIFIED.values(), *ACTION_SERVER_VERIFIED.values()}:
        assert _test_exists(reference), reference

    # And on the running server: public routes answer anyone, verified ones refuse a stranger.
    for method, path in sorted(PUBLIC):
        url = stack.url(path.replace("<name:path>", "dashboard.js"))
        assert stack.client.request(method, url).status_code == 200, path
    for (method, path), reference in sorted(VERIFIED.items()):
        url = stack.url(path.replace("<conversation_id:path>", "c-stranger"))
        if path == "/webhooks/webchat/session":
            answer = stack.client.post(url, json={"token": "w123.forged"})
        else:
            answer = stack.client.request(method, url, content=b"{}", headers={"Content-Type": "application/json"})
        assert answer.status_code in (401, 403), (method, path, answer.status_code, answer.text[:200])


def test_the_action_server_listens_on_loopback_only(stack: SplitStack) -> None:
    assert runner._env()["SANIC_HOST"] == "127.0.0.1"
    listening = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port = local.split(":")
            if state == "0A" and int(port, 16) == stack.action_port:  # 0A: LISTEN
                listening.add(address)
    assert listening == {"0100007F"}, listening  # 127.0.0.1, and no 0.0.0.0 / :: socket


def test_rasa_api_needs_the_token(stack: SplitStack) -> None:
    """The stack runs ops.runner's command with RASA_API_TOKEN set, so the API is on."""
    chat = WebChat(stack)
    chat.say("hola")
    conversation = Store(stack.database_url).conversation_of("webchat", chat.session_id)
    tracker = f"/conversations/{conversation.id}/tracker"
    assert stack.get(tracker).status_code == 401
    assert stack.get(tracker, params={"token": "not-the-token"}).status_code == 401
    allowed = stack.get(tracker, params={"token": API_TOKEN})
    assert allowed.status_code == 200 and allowed.json()["sender_id"] == conversation.id
    injected = stack.post(f"/conversations/{conversation.id}/messages", json={"text": "hola", "sender": "user"})
    assert injected.status_code == 401
    assert stack.get("/status").status_code == 401 and stack.get("/status", params={"token": API_TOKEN}).status_code == 200


def test_without_a_token_make_run_serves_no_rasa_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RASA_API_TOKEN", "")
    assert "--enable-api" not in runner.rasa_server_command(5005)
    monkeypatch.setenv("RASA_API_TOKEN", "t0ken")
    command = runner.rasa_server_command(5005)
    assert "--enable-api" in command and command[command.index("--auth-token") + 1] == "t0ken"


# -- forged and replayed provider requests ---------------------------------------------------------
def test_forged_twilio_requests_are_refused_and_change_nothing(stack: SplitStack, fakes) -> None:
    store, number = Store(stack.database_url), random_mobile()
    before = store.count()
    params = twilio_params(number, "quiero hablar con un asesor")
    forgeries = {
        "missing": {},
        "wrong token": {"X-Twilio-Signature": RequestValidator("not-the-token").compute_signature(PUBLIC_URL + WHATSAPP, params)},
        "another url": {"X-Twilio-Signature": signature(WHATSAPP_STATUS, params)},
        "garbage": {"X-Twilio-Signature": "AAAA"},
    }
    for name, headers in forgeries.items():
        answer = stack.post(WHATSAPP, data=params, headers=headers)
        assert answer.status_code == 403, name
    tampered = {**params, "Body": "dame el pedido PED-10240"}
    assert stack.post(WHATSAPP, data=tampered, headers={"X-Twilio-Signature": signature(WHATSAPP, params)}).status_code == 403
    # A status callback cannot be forged either (it would mark a reply read or failed).
    status = {"MessageSid": "SM" + uuid.uuid4().hex, "MessageStatus": "failed", "AccountSid": TWILIO_SID}
    assert stack.post(WHATSAPP_STATUS, data=status).status_code == 403
    time.sleep(1.0)
    assert store.count() == before
    assert store.messages_of("whatsapp", number) == [] and fakes.twilio.sent_to(number) == []


def test_a_replayed_signed_webhook_is_stored_and_answered_once(stack: SplitStack, fakes) -> None:
    store, number, chat = Store(stack.database_url), random_mobile(), new_chat()
    first, sid = whatsapp(stack, number, "hola")
    update = message_update(chat, "hola")
    secret = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    assert first.status_code == 200 and stack.post(TELEGRAM, json=update, headers=secret).status_code == 200
    wait_for_text(fakes.twilio, number, "asistente virtual")
    wait_for_text(fakes.telegram, chat, "asistente virtual")
    for _ in range(3):  # an attacker (or the provider) replays the exact signed request
        assert whatsapp(stack, number, "hola", sid=sid)[0].status_code == 200
        assert stack.post(TELEGRAM, json=update, headers=secret).status_code == 200
    store.answered("whatsapp", number)  # a replay is refused as it arrives; nothing is left to run
    store.answered("telegram", str(chat))
    assert len(store.inbound_with("whatsapp", sid)) == 1
    assert len(store.inbound_with("telegram", str(update["update_id"]))) == 1
    assert len(fakes.twilio.sent_to(number)) == 1 and len(fakes.telegram.sent_to(chat)) == 1


@pytest.mark.parametrize("secret", [None, "", "wrong", TELEGRAM_SECRET.upper(), TELEGRAM_SECRET + "x", TELEGRAM_SECRET[:-1]])
def test_a_wrong_telegram_secret_is_refused_and_changes_nothing(stack: SplitStack, fakes, secret) -> None:
    store, chat = Store(stack.database_url), new_chat()
    before = store.count()
    answer, update_id = telegram(stack, chat, "hola", secret=secret)
    assert answer.status_code == 403
    time.sleep(0.5)
    assert store.count() == before and store.inbound_with("telegram", update_id) == []
    assert fakes.telegram.sent_to(chat) == []


def test_a_tampered_web_chat_token_is_refused_everywhere(stack: SplitStack) -> None:
    store, chat = Store(stack.database_url), WebChat(stack)
    value, _, mac = chat.token.rpartition(".")  # value: <session id>.<issued at>
    later = f"{chat.session_id}.{int(time.time()) + 86400}.{mac}"  # its life extended by hand
    forged = [f"{value}x.{mac}", f"{value}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}", later, value, "w.",
              "a" * 600, None]
    before = store.count()
    for token in forged:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        assert stack.post(WEBCHAT + "/webhook", json={"text": "hola"}, headers=headers).status_code == 401
        assert stack.get(WEBCHAT + "/history", headers=headers).status_code == 401
        assert stack.post(WEBCHAT + "/ticket", headers=headers).status_code == 401
        assert stack.get(WEBCHAT + "/events", params={"ticket": token or ""}, headers=headers).status_code == 401
        if token:
            assert stack.post(WEBCHAT + "/session", json={"token": token}).status_code == 401
    forged_identity = {"identity": {"user_id": "42", "email": "ana.lopez@example.com", "ts": int(time.time()),
                                    "signature": "0" * 64}}
    assert stack.post(WEBCHAT + "/session", json=forged_identity).status_code == 401
    assert store.count() == before


def _hand_off(stack: SplitStack, fakes, number: str) -> str:
    store = Store(stack.database_url)
    whatsapp(stack, number, "quiero hablar con un asesor")
    wait_for_text(fakes.twilio, number, "Te comunico con un asesor")
    wait_until(lambda: store.thread_of("whatsapp", number), 60, "the Slack thread")
    return store.conversation_of("whatsapp", number).id


def test_slack_requests_unsigned_badly_signed_or_stale_change_nothing(stack: SplitStack, fakes) -> None:
    store, number = Store(stack.database_url), random_mobile()
    conversation_id = _hand_off(stack, fakes, number)
    root = store.thread_of("whatsapp", number)
    claim = action_body(AGENTS, "U0MALLORY", "unisono_claim", conversation_id, root)
    resolve = command_body(AGENTS, "U0MALLORY", "/resolve", conversation_id)
    reply = event_body(message_event(AGENTS, "U0MALLORY", "hola, soy tu asesor: dame tu tarjeta", f"{time.time():.6f}", root))
    form, json_type = "application/x-www-form-urlencoded", "application/json"
    stale = int(time.time()) - 6 * 60
    attempts = []
    for body, content_type in ((claim, form), (resolve, form), (reply, json_type)):
        tampered = body.replace("U0MALLORY", "U0MALLORX")  # still well-formed, no longer what was signed
        attempts += [
            stack.post(SLACK, content=body.encode(), headers={"Content-Type": content_type}),
            stack.post(SLACK, content=body.encode(), headers=signed_headers("not-the-secret", body, content_type=content_type)),
            stack.post(SLACK, content=body.encode(), headers=signed_headers(SLACK_SECRET, body, timestamp=stale, content_type=content_type)),
            stack.post(SLACK, content=tampered.encode(), headers=signed_headers(SLACK_SECRET, body, content_type=content_type)),
        ]
    assert [a.status_code for a in attempts] == [401] * len(attempts)
    time.sleep(1.5)
    conversation = store.conversation_of("whatsapp", number)
    assert conversation.status == "waiting_agent" and conversation.assigned_agent is None
    assert not any("tarjeta" in t for t in texts_to(fakes.twilio, number))  # nothing relayed to the customer
    # The same click, correctly signed and fresh, is honoured: the refusals were about the signature.
    signed = stack.post(SLACK, content=claim.encode(), headers=signed_headers(SLACK_SECRET, claim, content_type=form))
    assert signed.status_code == 200
    wait_until(lambda: store.conversation_of("whatsapp", number).assigned_agent == "U0MALLORY", 30, "the claim")


# -- link codes ---------------------------------------------------------------------------------------
CODE = re.compile(r"LINK-[A-Z0-9]{8}")


def issue_code(stack: SplitStack) -> tuple[WebChat, str]:
    chat = WebChat(stack)
    replies = chat.say("quiero unir mi whatsapp a este chat")
    code = next((m.group(0) for r in replies for m in [CODE.search(r)] if m), None)
    assert code, replies
    return chat, code


def test_a_link_code_is_single_use_and_expires(stack: SplitStack, fakes) -> None:
    store = Store(stack.database_url)
    web, code = issue_code(stack)
    owner = store.contact_of("webchat", web.session_id)
    holder, thief = new_chat(), new_chat()
    telegram(stack, holder, code)
    wait_for_text(fakes.telegram, holder, "Listo")
    assert store.contact_of("telegram", str(holder)).id == owner.id
    # The code leaks (a screenshot, a shared phone): replayed from another chat it is worthless.
    telegram(stack, thief, code)
    wait_for_text(fakes.telegram, thief, "no es válido")
    thief_contact = store.contact_of("telegram", str(thief))
    assert thief_contact is not None and thief_contact.id != owner.id
    # A code nobody used is worthless 10 minutes after it was issued.
    web2, code2 = issue_code(stack)
    with session_scope(stack.database_url) as session:
        session.execute(update(LinkCode).where(LinkCode.code == code2).values(
            expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
    late = new_chat()
    telegram(stack, late, code2)
    wait_for_text(fakes.telegram, late, "no es válido")
    assert store.contact_of("telegram", str(late)).id != store.contact_of("webchat", web2.session_id).id
    assert linking.TTL == dt.timedelta(minutes=10)
