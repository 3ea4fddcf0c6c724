"""The channel base (connectors/base.py): settings, the "channel off" answer, health, hub wiring.

Also the rule that keeps connectors thin: no module in connectors/ imports sqlalchemy or the
store's tables; they ask the core's store API instead.
"""
from __future__ import annotations

import ast
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

import pytest
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.hub import Hub
from connectors.base import Channel, json_error, missing_settings, setting

CONNECTORS = Path(__file__).resolve().parents[2] / "connectors"


@dataclass(frozen=True)
class EchoSettings:
    token: str

    @classmethod
    def from_env(cls) -> tuple[Optional["EchoSettings"], list[str]]:
        missing = missing_settings(["ECHO_TOKEN"])
        return (None, missing) if missing else (cls(setting("ECHO_TOKEN") or ""), [])


class EchoChannel(Channel[EchoSettings]):
    """A channel as small as one can be: one setting, one route."""

    channel = "echo"
    settings_type = EchoSettings

    def __init__(self, hub: Optional[Hub] = None, settings: Optional[EchoSettings] = None) -> None:
        super().__init__(hub, settings)
        self.wired = 0

    def wire(self) -> None:
        self.wired += 1

    def routes(self, bp: Blueprint) -> None:
        self.route(bp, "/webhook", self.receive)

    async def receive(self, request: Request) -> HTTPResponse:
        if not self.enabled:
            return self.off()
        return response.json({"echo": request.body.decode()})


def test_settings_are_stripped_and_empty_ones_are_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECHO_TOKEN", "  t0k  ")
    monkeypatch.setenv("ECHO_EMPTY", "   ")
    assert setting("ECHO_TOKEN") == "t0k"
    assert setting("ECHO_EMPTY", "fallback") == "fallback"
    assert missing_settings(["ECHO_TOKEN", "ECHO_EMPTY", "ECHO_UNSET_EVERYWHERE"]) == ["ECHO_EMPTY", "ECHO_UNSET_EVERYWHERE"]
    channel = EchoChannel(hub=Hub())  # settings not given: read through settings_type.from_env()
    assert channel.settings == EchoSettings("t0k") and channel.missing == [] and channel.enabled


async def test_a_channel_without_its_settings_is_off_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ECHO_TOKEN", "")
    channel = EchoChannel(hub=Hub())
    with caplog.at_level(logging.INFO):
        bp = channel.blueprint(lambda message: None)  # type: ignore[arg-type,return-value]
    assert [r.getMessage() for r in caplog.records if r.name == __name__] == ["echo channel off: ECHO_TOKEN not set"]
    assert channel.wired == 0 and not channel.enabled
    answer = await channel.receive(SimpleNamespace(body=b"hola"))  # type: ignore[arg-type]
    assert answer.status == 503 and json.loads(answer.body) == {"error": "echo channel off: ECHO_TOKEN not set"}
    assert bp.name == "echo_webhook"


def test_a_configured_channel_is_wired_once_and_attached_to_rasa() -> None:
    hub = Hub()
    handler = object()
    channel = EchoChannel(hub=hub, settings=EchoSettings("t0k"))
    bp = channel.blueprint(handler)  # type: ignore[arg-type]
    assert channel.wired == 1 and hub.rasa is handler
    assert {route.uri for route in bp._future_routes} == {"/", "/webhook"}
    assert EchoChannel.name() == "echo" and isinstance(EchoChannel.from_credentials(None), EchoChannel)


def _handler(bp: Blueprint, uri: str):  # type: ignore[no-untyped-def]
    return next(route.handler for route in bp._future_routes if route.uri == uri)


async def test_health_says_ok_or_off_and_routes_reach_the_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECHO_TOKEN", "")
    off = EchoChannel(hub=Hub()).blueprint(lambda m: None)  # type: ignore[arg-type]
    on = EchoChannel(hub=Hub(), settings=EchoSettings("t")).blueprint(lambda m: None)  # type: ignore[arg-type]
    request = SimpleNamespace(body=b"hola")
    assert json.loads((await _handler(off, "/")(request)).body) == {"status": "off"}
    assert json.loads((await _handler(on, "/")(request)).body) == {"status": "ok"}
    assert json.loads((await _handler(on, "/webhook")(request)).body) == {"echo": "hola"}
    assert (await _handler(off, "/webhook")(request)).status == 503


def test_json_errors_have_one_shape() -> None:
    answer = json_error(413, "request too large")
    assert answer.status == 413 and json.loads(answer.body) == {"error": "request too large"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize("path", sorted(CONNECTORS.rglob("*.py")), ids=lambda p: str(p.relative_to(CONNECTORS)))
def test_connectors_run_no_sql_of_their_own(path: Path) -> None:
    forbidden = [
        name for name in _imports(path)
        if name.split(".")[0] == "sqlalchemy" or name.startswith(("bot.store.models", "bot.db.session_scope"))
    ]
    assert forbidden == [], f"{path.name} reaches into the store directly; use bot/store's API"


def test_no_connector_function_is_longer_than_60_lines() -> None:
    long = []
    for path in CONNECTORS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 60:
                    long.append(f"{path.relative_to(CONNECTORS)}:{node.lineno} {node.name} ({length} lines)")
    assert long == []
