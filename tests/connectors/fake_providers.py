"""Fake Twilio REST and Telegram Bot APIs: real HTTP servers on loopback, in a thread each.

They answer like the real services (status codes, JSON shapes, auth), record every request,
and can be told to fail the next calls (500, 429 with Retry-After, 400, 403) or to be slow.
"""
from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional
from urllib.parse import parse_qsl


@dataclass
class Call:
    """One request the fake received and how it answered."""

    method: str  # the API method: "Messages.json", "sendMessage"...
    params: dict[str, Any]
    headers: dict[str, str]
    status: int = 0
    result: Any = None  # what the fake answered on success
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Fault:
    status: int = 500
    retry_after: Optional[float] = None
    delay: float = 0.0  # seconds to wait before answering (a slow provider)
    description: str = ""
    when: Optional[dict[str, Any]] = None  # only for calls with these parameters (e.g. one chat)

    def applies_to(self, params: dict[str, Any]) -> bool:
        return not self.when or all(str(params.get(k)) == str(v) for k, v in self.when.items())


class FakeProvider:
    """The common part: the server thread, the record, the fault plan."""

    fault_methods: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._faults: deque[Fault] = deque()
        self._always: Optional[Fault] = None
        self._lock = threading.Lock()
        self._server: Optional[ThreadingHTTPServer] = None

    # -- control ------------------------------------------------------------------------------
    def fail_next(
        self,
        count: int,
        status: int = 500,
        retry_after: Optional[float] = None,
        description: str = "",
        when: Optional[dict[str, Any]] = None,
    ) -> None:
        """The next `count` calls (with the parameters in `when`, if given) fail with `status`."""
        with self._lock:
            self._faults.extend(Fault(status, retry_after, 0.0, description, when) for _ in range(count))

    def slow_next(self, count: int, seconds: float, when: Optional[dict[str, Any]] = None) -> None:
        with self._lock:
            self._faults.extend(Fault(200, None, seconds, "", when) for _ in range(count))

    def fail_always(self, status: int = 500) -> None:
        with self._lock:
            self._always = Fault(status)

    def heal(self) -> None:
        with self._lock:
            self._faults.clear()
            self._always = None

    def _next_fault(self, method: str, params: dict[str, Any]) -> Optional[Fault]:
        if method not in self.fault_methods:
            return None
        with self._lock:
            for fault in self._faults:
                if fault.applies_to(params):
                    self._faults.remove(fault)
                    return fault
            return self._always

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}; calls: {self.calls[-5:]}")

    # -- server -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeProvider":
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = provider.handle(self.path, dict(self.headers.items()), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], Any]:
        raise NotImplementedError

    def _answer_fault(self, call: Call, fault: Fault, error: Callable[[Fault], tuple[int, dict[str, str], Any]]):
        if fault.delay:
            time.sleep(fault.delay)
        if fault.status < 300:
            return None
        call.status = fault.status
        return error(fault)


def _form(body: bytes) -> dict[str, Any]:
    """Form fields; a field given more than once (MediaUrl) becomes a list."""
    fields: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
        if key in fields:
            fields[key] = (fields[key] if isinstance(fields[key], list) else [fields[key]]) + [value]
        else:
            fields[key] = value
    return fields


class FakeTwilio(FakeProvider):
    """POST /2010-04-01/Accounts/{AccountSid}/Messages.json, with HTTP basic auth."""

    fault_methods = ("Messages.json",)
    _PATH = re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")

    def __init__(self, account_sid: str, auth_token: str) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token

    @property
    def sent(self) -> list[Call]:
        """The messages Twilio accepted, in order."""
        return [c for c in self.calls if c.ok]

    def sent_to(self, number: str) -> list[Call]:
        return [c for c in self.sent if c.params.get("To") == f"whatsapp:{number}"]

    def handle(self, path: str, headers: dict[str, str], body: bytes):
        match = self._PATH.match(path.split("?")[0])
        call = Call("Messages.json" if match else path, _form(body), headers)
        with self._lock:
            self.calls.append(call)
        if match is None:
            call.status = 404
            return 404, {}, {"code": 20404, "message": "The requested resource was not found", "status": 404}
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if headers.get("Authorization") != expected or match["sid"] != self.account_sid:
            call.status = 401
            return 401, {}, {"code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}
        fault = self._next_fault(call.method, call.params)
        if fault is not None:
            answer = self._answer_fault(call, fault, self._error)
            if answer is not None:
                return answer
        call.status = 201
        params = call.params
        sid = "SM" + uuid.uuid4().hex
        media = params.get("MediaUrl")
        call.result = {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": params.get("Body", ""),
            "date_created": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
            "date_sent": None,
            "date_updated": time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": params.get("From"),
            "to": params.get("To"),
            "messaging_service_sid": None,
            "num_media": str(len(media) if isinstance(media, list) else (1 if media else 0)),
            "num_segments": "1",
            "price": None,
            "price_unit": None,
            "status": "queued",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"},
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        return 201, {}, call.result

    @staticmethod
    def _error(fault: Fault):
        headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        message = fault.description or {429: "Too Many Requests", 400: "Bad Request"}.get(fault.status, "Internal Server Error")
        code = {429: 20429, 400: 21211, 500: 20500}.get(fault.status, fault.status)
        return fault.status, headers, {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": fault.status}


class FakeTelegram(FakeProvider):
    """POST /bot{token}/{method}: sendMessage, sendPhoto, answerCallbackQuery, setWebhook, getMe."""

    fault_methods = ("sendMessage", "sendPhoto")
    _PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>\w+)$")

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self._ids = itertools.count(100)

    @property
    def sent(self) -> list[Call]:
        return [c for c in self.calls if c.ok and c.method in ("sendMessage", "sendPhoto")]

    def sent_to(self, chat_id: int) -> list[Call]:
        return [c for c in self.sent if str(c.params.get("chat_id")) == str(chat_id)]

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    @staticmethod
    def _params(headers: dict[str, str], body: bytes) -> dict[str, Any]:
        if not body:
            return {}
        if "json" in (headers.get("Content-Type") or ""):
            return json.loads(body)
        params: dict[str, Any] = {}
        for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
            if value[:1] in ("{", "["):  # python-telegram-bot JSON-encodes objects and lists
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            params[key] = value
        return params

    def handle(self, path: str, headers: dict[str, str], body: bytes):
        match = self._PATH.match(path.split("?")[0])
        call = Call(match["method"] if match else path, self._params(headers, body), headers)
        with self._lock:
            self.calls.append(call)
        if match is None or match["token"] != self.token:
            call.status = 401 if match else 404
            return call.status, {}, {"ok": False, "error_code": call.status, "description": "Unauthorized" if match else "Not Found"}
        fault = self._next_fault(call.method, call.params)
        if fault is not None:
            answer = self._answer_fault(call, fault, self._error)
            if answer is not None:
                return answer
        result = self._result(call.method, call.params)
        if result is None:
            call.status = 404
            return 404, {}, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        call.status = 200
        call.result = result
        return 200, {}, {"ok": True, "result": result}

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method in ("sendMessage", "sendPhoto"):
            chat_id = int(params["chat_id"])
            message: dict[str, Any] = {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": {"id": 999000, "is_bot": True, "first_name": "Mayoreo TI", "username": "mayoreo_ti_bot"},
            }
            if method == "sendMessage":
                message["text"] = params.get("text", "")
            else:
                message["photo"] = [{"file_id": "AgAD-fake", "file_unique_id": "u1", "width": 320, "height": 240}]
                if params.get("caption"):
                    message["caption"] = params["caption"]
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            return message
        if method in ("answerCallbackQuery", "setWebhook", "deleteWebhook"):
            return True
        if method == "getMe":
            return {"id": 999000, "is_bot": True, "first_name": "Mayoreo TI", "username": "mayoreo_ti_bot"}
        return None

    @staticmethod
    def _error(fault: Fault):
        if fault.status == 429:
            seconds = int(fault.retry_after or 1)
            return 429, {}, {"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {seconds}", "parameters": {"retry_after": seconds}}
        description = fault.description or {
            400: "Bad Request: chat not found",
            403: "Forbidden: bot was blocked by the user",
        }.get(fault.status, "Internal Server Error")
        return fault.status, {}, {"ok": False, "error_code": fault.status, "description": description}
