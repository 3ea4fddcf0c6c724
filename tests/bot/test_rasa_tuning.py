"""The cached validator of action server responses gives stock Rasa's verdicts, faster."""
from __future__ import annotations


import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

import bot.hub  # noqa: F401 - importing the hub installs the tuning
from bot import rasa_tuning

GOOD = {
    "events": [{"event": "slot", "timestamp": None, "name": "language", "value": "es"}],
    "responses": [{"text": "hola"}],
}
BAD = [
    {"events": "not a list", "responses": []},
    {"events": [{"event": "no_such_event"}], "responses": []},
    {"events": [], "responses": ["not an object"]},
]


def stock(result: dict) -> None:
    jsonschema.validate(result, RemoteAction.action_response_format_spec())


def remote() -> RemoteAction:
    return RemoteAction("action_anything", None)


def test_the_hub_installs_it_on_rasas_remote_action() -> None:
    assert RemoteAction._validate_action_result is rasa_tuning.validate_action_result


def test_a_valid_response_passes_as_in_stock_rasa() -> None:
    stock(GOOD)
    assert remote()._validate_action_result(GOOD) is True


@pytest.mark.parametrize("result", BAD)
def test_an_invalid_response_is_refused_with_stock_rasas_error(result: dict) -> None:
    with pytest.raises(jsonschema.ValidationError) as expected:
        stock(result)
    with pytest.raises(jsonschema.ValidationError) as refused:
        remote()._validate_action_result(result)
    assert refused.value.message.startswith(expected.value.message)
    assert "Failed to validate Action server response" in refused.value.message


def test_validating_again_does_not_check_the_schema_again(monkeypatch: pytest.MonkeyPatch) -> None:
    remote()._validate_action_result(GOOD)  # built once
    checked = []
    validator_class = type(rasa_tuning._response_validator())
    monkeypatch.setattr(validator_class, "check_schema", classmethod(lambda cls, schema: checked.append(schema)))
    for _ in range(3):
        remote()._validate_action_result(GOOD)
    assert checked == []
