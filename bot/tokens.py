"""Signed tokens and the secrets they are signed with.

A web chat session token is `<session id>.<issued at>.<MAC>`: the MAC (HMAC-SHA256, base64url)
covers the session id and the Unix second the token was issued. The browser keeps it, the server
needs no session table, any change to it is refused, and it expires by itself: a token older than
the session lifetime (WEBCHAT_SESSION_DAYS) is refused. Each use renews it (the server hands back
a token with a new time), so a session ends only after that long *without use*. Replicas share
nothing for this but the secret.

A logged-in user's identity, signed by the company's site, carries its own time (`ts`) inside the
signature and is accepted for IDENTITY_MAX_AGE only: a signature copied out of a page stops
working minutes later.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from bot import config

SECRETS_DIR = config.VAR_DIR / "secrets"
IDENTITY_MAX_AGE = 600  # seconds a site's signed identity is accepted after its `ts`
CLOCK_SKEW = 60  # seconds a `ts` may be ahead of our clock (another machine's clock)
TOKEN_SKEW = 300  # seconds a session token's time may be ahead (another replica's clock)


class TokenRefused(Exception):
    """A session token or a signed identity that is not accepted; the message says why."""


class Expired(TokenRefused):
    """Genuine, but too old (or, for a site's identity, too far in the future)."""


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
    # Bytes: compare_digest raises on a str with non-ASCII characters (anyone can send those).
    if not value or not hmac.compare_digest(mac.encode(), _mac(key, value).encode()):
        return None
    return value


def hex_hmac(key: bytes, value: str) -> str:
    """HMAC-SHA256 as lowercase hex: what a company's site computes to vouch for a logged-in user."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def verify_hex(key: bytes, value: str, signature: str) -> bool:
    """Whether `signature` is `hex_hmac(key, value)`, compared in constant time."""
    return hmac.compare_digest(hex_hmac(key, value).encode(), signature.strip().lower().encode())


def new_session_id() -> str:
    return "w" + secrets.token_urlsafe(18)


@dataclass(frozen=True)
class Session:
    """A verified session token: whose session, and when the token was issued (Unix seconds)."""

    session_id: str
    issued_at: int


def sign_session(session_id: str, key: bytes, now: Optional[float] = None) -> str:
    """A session token for `session_id`, issued now (`now`: Unix seconds, for tests)."""
    return sign(f"{session_id}.{int(time.time() if now is None else now)}", key)


def verify_session(token: Optional[str], key: bytes, max_age: float, now: Optional[float] = None) -> Session:
    """The session a token names; raises TokenRefused (Expired: older than `max_age` seconds).

    A token from before tokens carried their time (`<id>.<MAC>`) is genuine but of unknown age:
    it is refused as expired, and the browser starts a new session.
    """
    value = unsign(token, key)
    if value is None:
        raise TokenRefused("invalid session token")
    session_id, _, stamp = value.rpartition(".")
    if not session_id or not stamp.isdigit():
        raise Expired("session expired; open a new session")
    now = time.time() if now is None else now
    issued = int(stamp)
    if now - issued > max_age or issued - now > TOKEN_SKEW:
        raise Expired("session expired; open a new session")
    return Session(session_id, issued)


def session_address(token: str) -> str:
    """The session id a token names, unverified (what its first part says)."""
    return token.rsplit(".", 2)[0]


def verify_identity(key: bytes, user_id: str, email: Optional[str], ts: int, signature: str,
                    now: Optional[float] = None) -> None:
    """Checks a site's signature over `user_id|email|ts` (email empty when none) and its age;
    raises TokenRefused (Expired when `ts` is more than IDENTITY_MAX_AGE old, or ahead of us)."""
    if not verify_hex(key, f"{user_id}|{email or ''}|{ts}", signature):
        raise TokenRefused("invalid identity signature")
    now = time.time() if now is None else now
    if now - ts > IDENTITY_MAX_AGE:
        raise Expired(f"identity signature expired: ts is more than {IDENTITY_MAX_AGE // 60} minutes old; "
                      "sign it again")
    if ts - now > CLOCK_SKEW:
        raise Expired("identity ts is in the future; check the signing server's clock")
