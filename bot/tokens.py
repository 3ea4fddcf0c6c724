"""Signed tokens and the secrets they are signed with.

A web chat session token is `<session id>.<HMAC-SHA256 of it>`, base64url: the browser keeps it,
the server needs no session table, and any change to it is refused.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Optional

from bot import config

SECRETS_DIR = config.VAR_DIR / "secrets"


def secret(name: str) -> bytes:
    """The secret `name`: from the environment variable of that name, else generated once and kept
    under var/secrets/ (git-ignored) so sessions survive restarts."""
    value = config.get(name)
    if value:
        return value.encode()
    path: Path = SECRETS_DIR / name.lower()
    if not path.exists():
        SECRETS_DIR.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip().encode()


def _mac(key: bytes, value: str) -> str:
    digest = hmac.new(key, value.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign(value: str, key: bytes) -> str:
    return f"{value}.{_mac(key, value)}"


def unsign(token: Optional[str], key: bytes) -> Optional[str]:
    """The signed value, or None when the token is missing, malformed or tampered with."""
    if not token or "." not in token or len(token) > 512:
        return None
    value, _, mac = token.rpartition(".")
    if not value or not hmac.compare_digest(mac, _mac(key, value)):
        return None
    return value


def hex_hmac(key: bytes, value: str) -> str:
    """HMAC-SHA256 as lowercase hex: what a company's site computes to vouch for a logged-in user."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def verify_hex(key: bytes, value: str, signature: str) -> bool:
    """Whether `signature` is `hex_hmac(key, value)`, compared in constant time."""
    return hmac.compare_digest(hex_hmac(key, value), signature.strip().lower())


def new_session_id() -> str:
    return "w" + secrets.token_urlsafe(18)
