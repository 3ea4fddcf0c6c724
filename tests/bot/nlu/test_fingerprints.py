"""Token fingerprints: installed by importing our components, equal for equal tokens, changed
by any field (a fingerprint that missed a change would let Rasa reuse a stale cached node)."""
from __future__ import annotations

import numpy as np

import bot.nlu  # noqa: F401  (installs the fingerprint, as Rasa's import of config.yml's components does)
from bot.nlu.fingerprints import token_fingerprint
from rasa.nlu.tokenizers.tokenizer import Token


def _token(**changes) -> Token:
    fields = {"text": "pedido", "start": 4, "end": 10, "lemma": "pedido",
              "data": {"pos": "NOUN", "pattern": {"order_id": False, "ticket_id": False}}}
    fields.update(changes)
    return Token(fields["text"], fields["start"], end=fields["end"], data=fields["data"], lemma=fields["lemma"])


def test_importing_our_components_installs_it() -> None:
    assert Token.fingerprint is token_fingerprint


def test_equal_tokens_have_equal_fingerprints_whatever_the_key_order() -> None:
    reordered = {"pattern": {"ticket_id": False, "order_id": False}, "pos": "NOUN"}
    assert _token().fingerprint() == _token(data=reordered).fingerprint()


def test_every_field_changes_it() -> None:
    base = _token().fingerprint()
    variants = [_token(text="pedidos"), _token(start=5), _token(end=11), _token(lemma="pedir"),
                _token(data={"pos": "VERB", "pattern": {"order_id": False, "ticket_id": False}}),
                _token(data={"pos": "NOUN", "pattern": {"order_id": True, "ticket_id": False}})]
    assert len({base, *(t.fingerprint() for t in variants)}) == len(variants) + 1


def test_data_json_cannot_hold_still_gets_a_fingerprint() -> None:
    token = _token(data={"vector": np.arange(3)})
    assert token.fingerprint() == _token(data={"vector": np.arange(3)}).fingerprint()
    assert token.fingerprint() != _token(data={"vector": np.arange(4)}).fingerprint()
