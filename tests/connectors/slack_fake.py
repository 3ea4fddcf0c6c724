"""A local fake of the Slack Web API, and signed requests to our Slack endpoint.

The fake is a real HTTP server on loopback: slack_sdk talks to it through SLACK_API_BASE_URL
exactly as it would to https://slack.com/api/. It records every call and answers like Slack, and
keeps the channel's messages as Slack would: posted, updated, deleted (the bot may delete or edit
only its own; an agent's message is put there with `human_post`). `refuse` makes a method fail.
"""
from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional

from slack_sdk.signature import SignatureVerifier

BOT_USER = "UBOT0001"
BOT_ID = "BBOT0001"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: Optional[str]
    result: dict[str, Any] = field(default_factory=dict)  # what the fake answered


@dataclass
class Refusal:
    method: str
    error: str
    ts: Optional[str] = None  # only for this message; None: any
    times: Optional[int] = None  # then it answers again; None: until cleared


@dataclass
class FakeSlack:
    token: str = "xoxb-test-token"
    calls: list[Call] = field(default_factory=list)
    # (channel, ts) -> {"channel", "ts", "text", "blocks", "attachments", "thread_ts", "user"}
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    refusals: list[Refusal] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                parsed = urllib.parse.urlsplit(self.path)
                args: dict[str, Any] = {k: v[0] for k, v in urllib.parse.parse_qs(parsed.query).items()}
                if raw:
                    if (self.headers.get("Content-Type") or "").startswith("application/json"):
                        args.update(json.loads(raw))
                    else:
                        args.update({k: v[0] for k, v in urllib.parse.parse_qs(raw).items()})
                method = parsed.path.rsplit("/", 1)[-1]
                auth = self.headers.get("Authorization") or ""
                token = auth[7:] if auth.startswith("Bearer ") else None
                body = fake._answer(method, args, token)
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, method: str, args: dict[str, Any], token: Optional[str]) -> dict[str, Any]:
        with self._lock:
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            refused = self._refused(method, args.get("ts"))
        result = {"ok": False, "error": refused} if refused and token == self.token else self._result(method, args, token, ts)
        with self._lock:
            self.calls.append(Call(method, args, token, result))
        return result

    def _result(self, method: str, args: dict[str, Any], token: Optional[str], ts: str) -> dict[str, Any]:
        if token != self.token:
            return {"ok": False, "error": "invalid_auth"}
        if method == "auth.test":
            return {"ok": True, "url": "https://unisono.slack.com/", "team": "Unisono", "user": "unisono",
                    "team_id": "T0001", "user_id": BOT_USER, "bot_id": BOT_ID, "is_enterprise_install": False}
        if method == "chat.postMessage":
            with self._lock:
                self.messages[(args.get("channel"), ts)] = {
                    "channel": args.get("channel"), "ts": ts, "text": args.get("text"), "blocks": args.get("blocks"),
                    "attachments": args.get("attachments"), "thread_ts": args.get("thread_ts"), "user": BOT_USER}
            return {"ok": True, "channel": args.get("channel"), "ts": ts,
                    "message": {"text": args.get("text"), "ts": ts, "bot_id": BOT_ID, "user": BOT_USER}}
        if method in ("chat.update", "chat.delete"):
            return self._change(method, args)
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method in ("conversations.history", "conversations.replies"):
            return {"ok": True, "messages": self._posted(method, args), "has_more": False}
        return {"ok": True}

    def _posted(self, method: str, args: dict[str, Any]) -> list[dict[str, Any]]:
        """What we posted, read back as Slack does: a channel's top-level messages (newest first),
        or a thread's root and replies; metadata only when asked for."""
        with self._lock:
            posts = [c for c in self.calls if c.method == "chat.postMessage" and c.result.get("ok")
                     and c.args.get("channel") == args.get("channel")]
        if method == "conversations.replies":
            posts = [c for c in posts if args.get("ts") in (c.args.get("thread_ts"), c.result.get("ts"))]
        else:
            posts = [c for c in reversed(posts) if not c.args.get("thread_ts")]
        oldest = float(args.get("oldest") or 0)
        with_metadata = str(args.get("include_all_metadata")).lower() in ("1", "true")
        return [
            {"ts": c.result["ts"], "text": c.args.get("text"), "thread_ts": c.args.get("thread_ts"),
             **({"metadata": c.args["metadata"]} if with_metadata and c.args.get("metadata") else {})}
            for c in posts if float(c.result["ts"]) >= oldest
        ]
    def _change(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        """chat.update and chat.delete on the stored messages, as the bot may: its own only."""
        key = (args.get("channel"), args.get("ts"))
        with self._lock:
            message = self.messages.get(key)
            if message is None:
                return {"ok": False, "error": "message_not_found"}
            if message["user"] != BOT_USER:
                return {"ok": False, "error": "cant_delete_message" if method == "chat.delete" else "cant_update_message"}
            if method == "chat.delete":
                del self.messages[key]
                return {"ok": True, "channel": key[0], "ts": key[1]}
            message.update({k: args[k] for k in ("text", "blocks", "attachments") if k in args})
        return {"ok": True, "channel": key[0], "ts": key[1], "text": args.get("text")}

    def _refused(self, method: str, ts: Any) -> Optional[str]:
        for rule in self.refusals:
            if rule.method == method and rule.ts in (None, ts) and rule.times != 0:
                if rule.times is not None:
                    rule.times -= 1
                return rule.error
        return None

    def refuse(self, method: str, error: str, ts: Optional[str] = None, times: Optional[int] = None) -> None:
        """`method` answers {"ok": false, "error": error} (for one message, `times` times, or until cleared)."""
        with self._lock:
            self.refusals.append(Refusal(method, error, ts, times))

    def clear_refusals(self) -> None:
        with self._lock:
            self.refusals.clear()

    def human_post(self, channel: str, user: str, text: str, thread_ts: Optional[str] = None) -> str:
        """A message a person wrote in the channel (not through the API): the bot cannot delete it."""
        with self._lock:
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            self.messages[(channel, ts)] = {"channel": channel, "ts": ts, "text": text, "blocks": None,
                                            "attachments": None, "thread_ts": thread_ts, "user": user}
        return ts

    def remaining(self, channel: Optional[str] = None) -> list[dict[str, Any]]:
        """The messages still in Slack (of `channel`), as a person would read them."""
        with self._lock:
            found = [dict(m) for m in self.messages.values() if channel in (None, m["channel"])]
        return [{**m, "rendered": rendered(Call("chat.postMessage", m, self.token))} for m in found]

    # -- reading what was called ----------------------------------------------------------------
    def of(self, method: str, **match: Any) -> list[Call]:
        with self._lock:
            calls = list(self.calls)
        return [c for c in calls if c.method == method and all(c.args.get(k) == v for k, v in match.items())]

    def wait_for(self, method: str, predicate: Callable[[Call], bool] = lambda c: True, timeout: float = 30.0,
                 **match: Any) -> Call:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for call in self.of(method, **match):
                if predicate(call):
                    return call
            time.sleep(0.1)
        raise AssertionError(f"no {method} {match} matching in {timeout} s; calls: {[(c.method, c.args) for c in self.calls][-10:]}")


def rendered(call: Call) -> str:
    """Everything a Slack user would read of a posted or updated message: text and block texts."""
    parts = [str(call.args.get("text") or "")]
    blocks = call.args.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text") and "text" in node:
                parts.append(str(node["text"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return "\n".join(parts)


def action_ids(call: Call) -> list[str]:
    blocks = call.args.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return [e.get("action_id") for b in blocks if b.get("type") == "actions" for e in b.get("elements", [])]


# -- signed requests to our endpoint ----------------------------------------------------------------
def signed_headers(secret: str, body: str, timestamp: Optional[int] = None, content_type: str = "application/json",
                   retry: Optional[int] = None) -> dict[str, str]:
    """Slack's v0 signature: HMAC-SHA256 of "v0:{timestamp}:{body}" with the signing secret."""
    stamp = int(time.time()) if timestamp is None else timestamp
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(stamp), body=body)
    headers = {"X-Slack-Request-Timestamp": str(stamp), "X-Slack-Signature": signature, "Content-Type": content_type}
    if retry is not None:
        headers.update({"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"})
    return headers


def event_body(event: dict[str, Any], event_id: Optional[str] = None) -> str:
    return json.dumps({
        "token": "unused", "team_id": "T0001", "api_app_id": "A0001", "type": "event_callback",
        "event_id": event_id or f"Ev{time.time_ns()}", "event_time": int(time.time()), "event": event,
    })


def message_event(channel: str, user: str, text: str, ts: str, thread_ts: Optional[str] = None, **extra: Any) -> dict[str, Any]:
    event = {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts,
             "client_msg_id": f"m-{ts}", "channel_type": "channel", **extra}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def action_body(channel: str, user: str, action_id: str, value: str, message_ts: str) -> str:
    """An interactivity payload (button click), form-encoded as Slack sends it."""
    payload = {
        "type": "block_actions", "team": {"id": "T0001"}, "user": {"id": user, "username": user},
        "api_app_id": "A0001", "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
        "channel": {"id": channel, "name": "agentes"}, "trigger_id": "1.2.3",
        "actions": [{"type": "button", "action_id": action_id, "block_id": "unisono_actions", "value": value,
                     "action_ts": str(time.time())}],
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)})


def command_body(channel: str, user: str, command: str, text: str) -> str:
    return urllib.parse.urlencode({
        "token": "unused", "team_id": "T0001", "channel_id": channel, "channel_name": "agentes", "user_id": user,
        "user_name": user, "command": command, "text": text, "response_url": "http://127.0.0.1:9/unused",
        "trigger_id": "1.2.3", "api_app_id": "A0001",
    })
