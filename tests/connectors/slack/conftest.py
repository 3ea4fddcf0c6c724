"""The fake Slack Web API the desk and endpoint tests post to (one per test module)."""
from __future__ import annotations

from typing import Iterator

import pytest

from tests.connectors.slack_fake import FakeSlack


@pytest.fixture(scope="module")
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    yield fake
    fake.close()
