"""Settings from the environment; a `.env` file at the project root fills in what is unset.

A variable set in the environment always wins over `.env`.
"""
from __future__ import annotations

import ipaddress
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Union

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = ROOT / "var"
DEFAULT_DATABASE_URL = f"sqlite:///{VAR_DIR / 'unisono.db'}"
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


@lru_cache(maxsize=1)
def _dotenv() -> dict[str, str]:
    path = ROOT / ".env"
    if not path.exists():
        return {}
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def get(name: str, default: str | None = None) -> str | None:
    """The value of `name`: environment first, then `.env`, then `default`."""
    if name in os.environ:
        return os.environ[name]
    return _dotenv().get(name, default)


def database_url() -> str:
    url = get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    return url


def reload() -> None:
    """Forget the cached `.env` (tests change it)."""
    _dotenv.cache_clear()


def replica_name() -> str:
    """This process's name among the replicas (REPLICA_NAME; default host and pid): it owns the
    work it claims, and its log lines carry it."""
    import socket

    return get("REPLICA_NAME") or f"{socket.gethostname()}-{os.getpid()}"


DEFAULT_RETENTION_DAYS = 730


def retention_days() -> int:
    """RETENTION_DAYS (default 730): a conversation idle longer than this is anonymised
    (bot/retention.py). Anything but a whole number of days of at least 1 is the default."""
    raw = (get("RETENTION_DAYS") or "").strip()
    try:
        days = int(raw) if raw else DEFAULT_RETENTION_DAYS
    except ValueError:
        days = 0
    if days < 1:
        logging.getLogger(__name__).warning("RETENTION_DAYS=%r is not a whole number of days; using %d",
                                            raw, DEFAULT_RETENTION_DAYS)
        return DEFAULT_RETENTION_DAYS
    return days
# -- the web chat's sessions and rate limits (README, "Web chat"; docs/deployment.md) -----------
DEFAULT_WEBCHAT_SESSION_DAYS = 30.0
# Per client IP unless said otherwise; a limit of 0 switches that limit off.
DEFAULT_RATE_LIMITS = {
    "RATE_LIMIT_SESSIONS_PER_IP": 30,  # new web chat sessions and sign-ins, per minute
    "RATE_LIMIT_MESSAGES_PER_IP": 120,  # web chat messages, per minute
    "RATE_LIMIT_MESSAGES_PER_SESSION": 30,  # web chat messages of one session, per minute
    "RATE_LIMIT_LINK_CODES_PER_IP": 20,  # web chat messages carrying a link code, per hour
}


def _number(name: str, default: float, kind: type = float) -> Any:
    raw = (get(name) or "").strip()
    if not raw:
        return kind(default)
    try:
        value = kind(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"{name} must be a number >= 0, not {raw!r}")
    return value


def webchat_session_seconds() -> float:
    """How long a web chat session token lives without use (WEBCHAT_SESSION_DAYS, default 30)."""
    days = _number("WEBCHAT_SESSION_DAYS", DEFAULT_WEBCHAT_SESSION_DAYS)
    if days <= 0:
        raise ValueError("WEBCHAT_SESSION_DAYS must be more than 0")
    return days * 86400


def rate_limit(name: str) -> int:
    """One of DEFAULT_RATE_LIMITS, as set (a whole number; 0: no limit)."""
    return _number(name, DEFAULT_RATE_LIMITS[name], int)


def trusted_proxies() -> tuple[IPNetwork, ...]:
    """TRUSTED_PROXIES: the proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For is
    believed. Unset: none, and the client's address is always the connection's peer."""
    networks = []
    for item in (get("TRUSTED_PROXIES") or "").split(","):
        if item.strip():
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                raise ValueError(f"TRUSTED_PROXIES: {item.strip()!r} is not an IP address or CIDR") from None
    return tuple(networks)
