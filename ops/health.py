"""`GET /health`: is this replica ready to take requests? (the load balancer's and Kubernetes' probe)

Ready means the database answers `SELECT 1`, Redis answers PING when REDIS_URL is set, and the
replica is not draining after SIGTERM. 200 with `{"status": "ok", ...}`, else 503 with the part
that failed, so a balancer stops sending work to a replica that could not store it.

It is an operations route, not a provider channel, so it lives here and not in connectors/. Rasa
serves every InputChannel named in credentials.yml under /webhooks/ + `url_prefix()`; a prefix of
"/" puts the route at the server root. On Sanic's before_server_stop the replica marks itself
draining (health turns 503, the balancer takes it out) and lets the hub finish or release its work.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy import text

from bot import config, db

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0  # a probe that hangs is a failed probe: the balancer checks every 2 s
HUB_STOP_GRACE_SECONDS = 10.0

_draining = False


def draining() -> bool:
    """True once this process has started to stop (SIGTERM)."""
    return _draining


def _select_one() -> None:
    with db.get_engine().connect() as connection:
        connection.execute(text("SELECT 1"))


async def database_status() -> str:
    """"ok" when the configured database answers `SELECT 1` in time, else "error"."""
    try:
        await asyncio.wait_for(db.call(_select_one), CHECK_TIMEOUT_SECONDS)
        return "ok"
    except Exception as exc:  # any failure is "not ready"; the reason goes to the log
        logger.warning("health: database unreachable (%s)", type(exc).__name__)
        return "error"


async def redis_status(url: Optional[str] = None) -> str:
    """"off" without REDIS_URL; "ok" when Redis answers PING in time, else "error"."""
    url = url if url is not None else (config.get("REDIS_URL") or "").strip()
    if not url:
        return "off"
    import redis.asyncio as aioredis

    client = aioredis.from_url(url, socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
                               socket_timeout=CHECK_TIMEOUT_SECONDS)
    try:
        await asyncio.wait_for(client.ping(), CHECK_TIMEOUT_SECONDS)
        return "ok"
    except Exception as exc:
        logger.warning("health: Redis unreachable (%s)", type(exc).__name__)
        return "error"
    finally:
        await client.close(close_connection_pool=True)


async def readiness() -> tuple[int, dict[str, str]]:
    """The HTTP status and body of `GET /health`."""
    database, redis_state = await asyncio.gather(database_status(), redis_status())
    ready = not _draining and database == "ok" and redis_state in ("ok", "off")
    body = {"status": "ok" if ready else "unavailable", "replica": config.replica_name(),
            "database": database, "redis": redis_state}
    if _draining:
        body["draining"] = "yes"
    return (200 if ready else 503), body


async def drain(*_args: Any) -> None:
    """Stops taking work: health turns 503, then the hub finishes or releases its claims."""
    global _draining
    _draining = True
    logger.info("replica %s is draining", config.replica_name())
    from bot.hub import get_hub

    await get_hub().stop(HUB_STOP_GRACE_SECONDS)


class HealthInput(InputChannel):
    """`GET /health` at the server root, registered through credentials.yml like a channel."""

    @classmethod
    def name(cls) -> Text:
        return "health"

    def url_prefix(self) -> Text:
        return "/"  # Rasa joins it to /webhooks/: "/" means the root

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("unisono_health", __name__)

        @bp.route("/health", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            status, body = await readiness()
            return response.json(body, status=status)

        bp.listener("before_server_stop")(drain)
        return bp

