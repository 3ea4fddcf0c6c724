"""Fixtures for the provider channels: fake provider APIs and the real stack pointed at them."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.connectors.fake_providers import FakeTelegram, FakeTwilio
from tests.connectors.support import CHANNEL_VARIABLES_OFF, TELEGRAM_TOKEN, TWILIO_SID, TWILIO_TOKEN, Stack


@pytest.fixture(scope="module")
def make_stack(request: pytest.FixtureRequest, database_url: str, model_path: Path) -> Iterator[Callable[..., Stack]]:
    """Starts stacks with `start_server` from tests/conftest.py; stops them after the module."""
    root_conftest = request.config.pluginmanager.get_plugin(str(Path(__file__).resolve().parents[1] / "conftest.py"))
    stacks: list[Stack] = []

    def make(env: dict[str, str], name: str) -> Stack:
        stack = Stack(root_conftest.start_server, database_url, {**CHANNEL_VARIABLES_OFF, "NO_PROXY": "127.0.0.1,localhost", **env}, name)
        stacks.append(stack.start())
        return stack

    yield make
    for stack in stacks:
        stack.stop()


@pytest.fixture(scope="module")
def fake_twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio(TWILIO_SID, TWILIO_TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def fake_telegram() -> Iterator[FakeTelegram]:
    fake = FakeTelegram(TELEGRAM_TOKEN).start()
    yield fake
    fake.stop()
