"""What every channel shares, so that each channel file is that channel alone.

A channel is a Rasa InputChannel served under /webhooks/<name>/. It reads its settings from the
environment (or .env) and, when some are missing, stays off: one warning at start, a health route
that says "off", and 503 with the missing names on its webhooks, instead of failing the server.
When on, it wires its parts into the hub (a sender, a desk) and starts the hub's outbox once the
server runs. A subclass says its `channel` name and adds its routes in `routes()`.
"""
from __future__ import annotations

import ipaddress
import logging
from typing import Any, Awaitable, Callable, ClassVar, Dict, Generic, Iterable, Optional, Text, TypeVar

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import config
from bot.config import IPNetwork
from bot.hub import Hub, get_hub

MAX_BODY = 64 * 1024  # webhook bodies above this are refused with 413

S = TypeVar("S")


def missing_settings(names: Iterable[str]) -> list[str]:
    """The names among `names` that are unset or empty (environment, then .env)."""
    return [name for name in names if not (config.get(name) or "").strip()]


def setting(name: str, default: Optional[str] = None) -> Optional[str]:
    """A stripped setting, or `default` when unset or empty."""
    value = (config.get(name) or "").strip()
    return value or default


def json_error(status: int, message: str) -> HTTPResponse:
    """The JSON error answer every channel gives: {"error": message}."""
    return response.json({"error": message}, status=status)


def _ip(text: str) -> Optional[Any]:
    try:
        ip = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    return getattr(ip, "ipv4_mapped", None) or ip


def client_ip(request: Request, trusted: tuple[IPNetwork, ...]) -> str:
    """The address of the client behind a request, for rate limits.

    The connection's peer, unless the peer is one of the `trusted` proxies (TRUSTED_PROXIES): then
    X-Forwarded-For (every such header, in order) is read from the right, each proxy having
    appended the address it saw, and the first address that is not a trusted proxy is the client.
    Anything left of that was written by the client and is ignored: anyone can send the header,
    so it is believed only as far as trusted proxies vouch for it.
    """
    peer = _ip(request.ip or "")
    client = str(peer) if peer is not None else (request.ip or "")
    if peer is None or not any(peer in network for network in trusted):
        return client
    forwarded = ",".join(request.headers.getall("x-forwarded-for", []))
    for hop in reversed([part for part in forwarded.split(",") if part.strip()]):
        address = _ip(hop)
        if address is None:
            break  # garbage: written by the client, not by a proxy
        client = str(address)
        if not any(address in network for network in trusted):
            break
    return client


class Channel(InputChannel, Generic[S]):
    """A channel with settings of type S (None while the channel is off)."""

    channel: ClassVar[str] = ""
    # Its settings' class: `from_env()` gives (settings, []) or (None, names of the missing ones).
    settings_type: ClassVar[Optional[Any]] = None
    attaches_rasa: ClassVar[bool] = True  # a customer channel feeds Rasa; the agents' desk does not

    @classmethod
    def name(cls) -> Text:
        return cls.channel

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "Channel":
        """Settings come from the environment (see README), not from credentials.yml."""
        return cls()

    def __init__(self, hub: Optional[Hub] = None, settings: Optional[S] = None) -> None:
        """`settings` given (tests) or read from the environment; `hub` given or the process's."""
        self.hub = hub or get_hub()
        self.missing: list[str] = []
        if settings is None and self.settings_type is not None:
            settings, self.missing = self.settings_type.from_env()
        self.settings = settings
        self.logger = logging.getLogger(type(self).__module__)  # logs name the channel's own module

    @property
    def enabled(self) -> bool:
        return self.settings is not None

    # -- what a channel may override ----------------------------------------------------------
    def routes(self, bp: Blueprint) -> None:
        """Adds the channel's own routes (the health route is already there)."""
        raise NotImplementedError

    def wire(self) -> None:
        """Registers the channel's parts with the hub; called once, only when the channel is on."""

    def log_off(self) -> None:
        """The one warning of a channel that is off."""
        self.logger.warning("%s channel off: %s not set", self.channel, ", ".join(self.missing))

    def off(self) -> HTTPResponse:
        """The answer of a webhook while the channel is off."""
        return json_error(503, f"{self.channel} channel off: {', '.join(self.missing)} not set")

    async def started(self, app: Any) -> None:
        """After the server starts: the hub's outbox runs (idempotent across channels)."""
        if self.enabled:
            self.hub.start()

    async def stopping(self, app: Any) -> None:
        """Before the server stops: background work of the channel ends."""

    # -- the blueprint Rasa mounts at /webhooks/<name> ----------------------------------------
    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        if self.attaches_rasa:
            self.hub.attach_rasa(on_new_message)
        if self.enabled:
            self.wire()
        else:
            self.log_off()
        bp = Blueprint(f"{self.channel}_webhook", __name__)

        @bp.listener("after_server_start")
        async def start(app: Any, loop: Any) -> None:
            await self.started(app)

        @bp.listener("before_server_stop")
        async def stop(app: Any, loop: Any) -> None:
            await self.stopping(app)

        @bp.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.enabled else "off"})

        self.routes(bp)
        return bp

    @staticmethod
    def route(bp: Blueprint, path: str, handler: Callable[[Request], Awaitable[HTTPResponse]], method: str = "POST") -> None:
        """Mounts `handler` (a method taking the request) at `path`."""

        async def endpoint(request: Request) -> HTTPResponse:
            return await handler(request)

        bp.add_route(endpoint, path, methods=[method], name=handler.__name__)
