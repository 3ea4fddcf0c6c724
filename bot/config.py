"""Settings from the environment; a `.env` file at the project root fills in what is unset.

A variable set in the environment always wins over `.env`.
"""
from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = ROOT / "var"
DEFAULT_DATABASE_URL = f"sqlite:///{VAR_DIR / 'unisono.db'}"


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
