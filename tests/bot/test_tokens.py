"""Session tokens that expire without use, and the site's signed identities that expire in minutes
(bot/tokens.py). The clock is passed in: nothing waits."""
from __future__ import annotations

import pytest

from bot import tokens

KEY = b"test-key"
DAY = 86400
NOW = 1_800_000_000.0


def test_a_session_token_names_its_session_and_when_it_was_issued() -> None:
    token = tokens.sign_session("wAbc", KEY, now=NOW)
    assert token.startswith(f"wAbc.{int(NOW)}.")
    assert tokens.verify_session(token, KEY, 30 * DAY, now=NOW + 5) == tokens.Session("wAbc", int(NOW))
    assert tokens.session_address(token) == "wAbc"
    # A signed-in user's address may hold dots: the time and the MAC are the last two parts.
    user = tokens.sign_session("user:ana.lopez", KEY, now=NOW)
    assert tokens.verify_session(user, KEY, 30 * DAY, now=NOW).session_id == "user:ana.lopez"
    assert tokens.session_address(user) == "user:ana.lopez"


def test_a_token_expires_after_the_lifetime_without_use_and_renewing_slides_it() -> None:
    token = tokens.sign_session("wAbc", KEY, now=NOW)
    assert tokens.verify_session(token, KEY, 30 * DAY, now=NOW + 30 * DAY).session_id == "wAbc"
    with pytest.raises(tokens.Expired, match="session expired"):
        tokens.verify_session(token, KEY, 30 * DAY, now=NOW + 30 * DAY + 1)
    # Used on day 29 (renewed), it lives until day 59.
    renewed = tokens.sign_session("wAbc", KEY, now=NOW + 29 * DAY)
    assert tokens.verify_session(renewed, KEY, 30 * DAY, now=NOW + 59 * DAY).session_id == "wAbc"


@pytest.mark.parametrize("change", ["session", "time", "mac"])
def test_a_changed_token_is_invalid_not_expired(change: str) -> None:
    session_id, stamp, mac = tokens.sign_session("wAbc", KEY, now=NOW).split(".")
    forged = {"session": f"wAbd.{stamp}.{mac}", "time": f"{session_id}.{int(NOW) + DAY}.{mac}",
              "mac": f"{session_id}.{stamp}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}"}[change]
    with pytest.raises(tokens.TokenRefused) as refused:
        tokens.verify_session(forged, KEY, 30 * DAY, now=NOW)
    assert not isinstance(refused.value, tokens.Expired) and str(refused.value) == "invalid session token"


def test_non_ascii_in_a_token_or_a_signature_is_refused_not_an_error() -> None:
    token = tokens.sign_session("wAbc", KEY, now=NOW)
    with pytest.raises(tokens.TokenRefused):
        tokens.verify_session(token[:-1] + "ñ", KEY, 30 * DAY, now=NOW)
    with pytest.raises(tokens.TokenRefused):
        tokens.verify_identity(KEY, "42", None, int(NOW), "ñ" * 64, now=NOW)


def test_a_token_from_before_tokens_carried_their_time_is_expired() -> None:
    with pytest.raises(tokens.Expired):
        tokens.verify_session(tokens.sign("wAbc", KEY), KEY, 30 * DAY, now=NOW)


def test_a_token_from_the_future_beyond_clock_skew_is_refused() -> None:
    ahead = tokens.sign_session("wAbc", KEY, now=NOW + tokens.TOKEN_SKEW)
    assert tokens.verify_session(ahead, KEY, 30 * DAY, now=NOW).session_id == "wAbc"  # another replica's clock
    with pytest.raises(tokens.Expired):
        tokens.verify_session(tokens.sign_session("wAbc", KEY, now=NOW + tokens.TOKEN_SKEW + 1), KEY, 30 * DAY, now=NOW)


def _signed(user_id: str, email: str | None, ts: int) -> str:
    return tokens.hex_hmac(KEY, f"{user_id}|{email or ''}|{ts}")


def test_a_site_identity_is_accepted_for_ten_minutes_after_its_ts() -> None:
    ts = int(NOW)
    tokens.verify_identity(KEY, "42", "ana@example.com", ts, _signed("42", "ana@example.com", ts), now=NOW + 600)
    tokens.verify_identity(KEY, "42", None, ts, _signed("42", None, ts), now=NOW + tokens.CLOCK_SKEW * -1)
    with pytest.raises(tokens.Expired, match="more than 10 minutes old"):
        tokens.verify_identity(KEY, "42", None, ts, _signed("42", None, ts), now=NOW + 601)
    with pytest.raises(tokens.Expired, match="in the future"):
        tokens.verify_identity(KEY, "42", None, ts, _signed("42", None, ts), now=NOW - tokens.CLOCK_SKEW - 1)


@pytest.mark.parametrize("claimed", [("42", "otro@example.com", 0), ("43", "ana@example.com", 0),
                                     ("42", "ana@example.com", 1), ("42", None, 0)],
                         ids=["email", "user", "ts", "email-dropped"])
def test_every_signed_field_is_bound(claimed: tuple[str, str | None, int]) -> None:
    ts = int(NOW)
    signature = _signed("42", "ana@example.com", ts)
    user_id, email, later = claimed
    with pytest.raises(tokens.TokenRefused, match="invalid identity signature"):
        tokens.verify_identity(KEY, user_id, email, ts + later, signature, now=NOW)
