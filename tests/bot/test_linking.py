"""Link codes: issued, redeemed once, expiring, rate limited, and never merging two different people."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select, update

from bot import language, linking
from bot.conversations import resolve
from bot.db import session_scope
from bot.messages import Inbound
from bot.store.models import ChannelIdentity, Contact, LinkCode


@pytest.fixture(autouse=True)
def _db(database_url):
    return database_url


def web(address: str | None = None) -> Inbound:
    return Inbound(channel="webchat", address=address or f"w{uuid.uuid4().hex}", text="hola")


def whatsapp(phone: str) -> Inbound:
    return Inbound(channel="whatsapp", address=phone, text="hola", verified_phone=phone, verified_by="twilio_from")


def unique_phone() -> str:
    return "+52155" + str(uuid.uuid4().int)[:8]


def test_code_format_and_single_live_code_per_contact():
    party = resolve(web())
    first = linking.issue_code(party.conversation_id)
    second = linking.issue_code(party.conversation_id)
    assert first.startswith("LINK-") and len(first) == 13 and first != second
    assert linking.redeem(first, "telegram", "111").outcome == "invalid"  # replaced by the second
    assert linking.find_code(f"mi código es {second.lower()}") == second


def test_the_code_is_cut_out_of_what_the_language_is_guessed_from():
    # Random letters spell words now and then ("THE", "CAN"): they must not pick the reply language.
    assert language.detect("LINK-THE2CAN2") == "en"
    assert language.detect(linking.without_code("LINK-THE2CAN2")) is None
    assert language.detect(linking.without_code("here is my code link-the2can2")) == "en"
    assert language.detect(linking.without_code("este es mi código LINK-THE2CAN2")) == "es"


def test_redeeming_joins_the_new_channel_to_the_same_conversation():
    party = resolve(web())
    code = linking.issue_code(party.conversation_id)
    phone = unique_phone()
    result = linking.redeem(code, "whatsapp", phone)
    assert result.outcome == "linked" and result.conversation_id == party.conversation_id
    assert resolve(whatsapp(phone)).conversation_id == party.conversation_id
    # single use
    assert linking.redeem(code, "telegram", "222").outcome == "invalid"


def test_existing_contact_is_merged_with_its_history_in_one_go():
    web_party = resolve(web())
    phone = unique_phone()
    wa_party = resolve(whatsapp(phone))
    code = linking.issue_code(web_party.conversation_id)
    assert linking.redeem(code, "whatsapp", phone).outcome == "linked"
    with session_scope() as session:
        assert session.get(Contact, wa_party.contact_id) is None
        contact = session.get(Contact, web_party.contact_id)
        assert contact.phone is not None  # the verified phone moved over
        identities = session.execute(select(ChannelIdentity).where(ChannelIdentity.contact_id == contact.id)).scalars().all()
        assert {i.channel for i in identities} == {"webchat", "whatsapp"}


def test_two_different_verified_phones_are_never_merged():
    a_phone, b_phone = unique_phone(), unique_phone()
    a = resolve(whatsapp(a_phone))
    b_address = f"tg{uuid.uuid4().hex[:8]}"
    resolve(Inbound(channel="telegram", address=b_address, text="hi", verified_phone=b_phone, verified_by="telegram_contact"))
    code = linking.issue_code(a.conversation_id)
    assert linking.redeem(code, "telegram", b_address).outcome == "conflict"
    with session_scope() as session:
        identity = session.execute(
            select(ChannelIdentity).where(ChannelIdentity.channel == "telegram", ChannelIdentity.address == b_address)
        ).scalar_one()
        assert identity.contact_id != a.contact_id


def test_expired_code_is_refused():
    party = resolve(web())
    code = linking.issue_code(party.conversation_id)
    with session_scope() as session:
        session.execute(
            update(LinkCode).where(LinkCode.code == code).values(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1))
        )
    assert linking.redeem(code, "telegram", "333").outcome == "invalid"


def test_guessing_is_rate_limited_per_address():
    address = f"guesser{uuid.uuid4().hex[:6]}"
    outcomes = [linking.redeem(f"LINK-{i:08d}", "telegram", address).outcome for i in range(linking.MAX_FAILED_REDEEMS_PER_HOUR + 3)]
    assert outcomes[: linking.MAX_FAILED_REDEEMS_PER_HOUR] == ["invalid"] * linking.MAX_FAILED_REDEEMS_PER_HOUR
    assert set(outcomes[linking.MAX_FAILED_REDEEMS_PER_HOUR:]) == {"rate_limited"}
    # Even the right code is refused while the limit holds.
    party = resolve(web())
    code = linking.issue_code(party.conversation_id)
    assert linking.redeem(code, "telegram", address).outcome == "rate_limited"


def test_issuing_is_rate_limited_per_contact():
    party = resolve(web())
    for _ in range(linking.MAX_CODES_PER_HOUR):
        linking.issue_code(party.conversation_id)
    with pytest.raises(linking.RateLimited):
        linking.issue_code(party.conversation_id)
