"""The action server finds every custom action domain.yml names, whatever module holds it.

`make run` starts rasa_sdk with `--actions actions`: it imports every module of the package and
registers each concrete Action subclass by its name(), so modules may be renamed freely as long
as this holds.
"""
from __future__ import annotations

import yaml
from rasa_sdk.executor import ActionExecutor

from bot.config import ROOT


def test_every_custom_action_of_the_domain_is_registered_and_no_abstract_base_is() -> None:
    executor = ActionExecutor()
    executor.register_package("actions")
    registered = set(executor.actions)
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert set(domain["actions"]) <= registered
    assert all(isinstance(name, str) and name for name in registered)  # VerifiedContactForm was skipped
