"""One real stack for the whole reliability suite: every channel on, pointed at loopback fakes.

It has its own database (migrated and seeded), so nothing another test module leaves behind,
and no other server's outbox or recovery loop, touches what these tests count. Rasa's HTTP API is
on, protected by RASA_API_TOKEN, as `make run` starts it when that variable is set.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from ops import migrate, seed
from tests.connectors.fake_providers import FakeTelegram, FakeTwilio
from tests.connectors.slack_fake import FakeSlack
from tests.connectors.support import (
    BUSINESS_NUMBER,
    PUBLIC_URL,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    TWILIO_SID,
    TWILIO_TOKEN,
)
from tests.reliability.clients import AGENTS, API_TOKEN, SLACK_SECRET, WEDNESDAY_11AM
from tests.reliability.gate import OPEN, Gate
from tests.reliability.stack import SplitStack


@dataclass
class Fakes:
    twilio: FakeTwilio
    telegram: FakeTelegram
    slack: FakeSlack
    telegram_gate: Gate  # the stack reaches the fake Bot API through it (refuse / hang on demand)


@pytest.fixture(scope="session")
def fakes() -> Iterator[Fakes]:
    twilio = FakeTwilio(TWILIO_SID, TWILIO_TOKEN).start()
    telegram = FakeTelegram(TELEGRAM_TOKEN).start()
    gate = Gate(int(telegram.url.rsplit(":", 1)[1]))
    slack = FakeSlack()
    yield Fakes(twilio, telegram, slack, gate)
    gate.close()
    twilio.stop()
    telegram.stop()
    slack.close()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, model_path: Path, fakes: Fakes) -> Iterator[SplitStack]:
    twilio, slack = fakes.twilio, fakes.slack
    workdir = tmp_path_factory.mktemp("reliability")
    url = f"sqlite:///{workdir / 'reliability.db'}"
    migrate.upgrade(url)
    seed.seed(url)
    env = {
        "PUBLIC_URL": PUBLIC_URL,
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_WHATSAPP_NUMBER": BUSINESS_NUMBER,
        "TWILIO_API_BASE_URL": twilio.url,
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "TELEGRAM_API_BASE_URL": fakes.telegram_gate.url + "/bot",
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_SIGNING_SECRET": SLACK_SECRET,
        "SLACK_AGENT_CHANNEL": AGENTS,
        "SLACK_API_BASE_URL": slack.base_url,
        "HANDOFF_NOW": WEDNESDAY_11AM,  # inside business hours: hand-offs go to a Slack thread
        "ORDER_EVENTS_SECRET": "reliability-order-events-secret",  # the endpoint on: it must refuse strangers
        "ADMIN_TOKEN": "test-admin-token",  # the KPI area exists: its routes are in the inventory
    }
    instance = SplitStack(url, env, "reliability", workdir, api_token=API_TOKEN).start()
    yield instance
    instance.stop()


@pytest.fixture(autouse=True)
def _stack_running(request: pytest.FixtureRequest) -> None:
    """A fault test that failed half-way may have left a process stopped: start it again."""
    if "stack" in request.fixturenames:
        request.getfixturevalue("stack").ensure_running()


@pytest.fixture(autouse=True)
def _providers_healthy(request: pytest.FixtureRequest) -> None:
    """Every test starts with providers that work (a fault test may have left one failing)."""
    if "fakes" in request.fixturenames or "stack" in request.fixturenames:
        fakes: Fakes = request.getfixturevalue("fakes")
        fakes.twilio.heal()
        fakes.telegram.heal()
        fakes.telegram_gate.set(OPEN)
