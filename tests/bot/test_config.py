"""Settings: the environment wins over `.env`, which wins over defaults."""
from __future__ import annotations

import pytest

from bot import config


@pytest.fixture
def dotenv(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "ROOT", tmp_path)
    config.reload()
    yield tmp_path / ".env"
    config.reload()


def test_dotenv_fills_in_what_the_environment_does_not_set(dotenv, monkeypatch):
    dotenv.write_text("UNISONO_TEST_SETTING=from-dotenv\n")
    monkeypatch.delenv("UNISONO_TEST_SETTING", raising=False)
    assert config.get("UNISONO_TEST_SETTING") == "from-dotenv"


def test_environment_wins_over_dotenv(dotenv, monkeypatch):
    dotenv.write_text("UNISONO_TEST_SETTING=from-dotenv\n")
    monkeypatch.setenv("UNISONO_TEST_SETTING", "from-env")
    assert config.get("UNISONO_TEST_SETTING") == "from-env"


def test_database_url_defaults_to_a_sqlite_file_under_var(monkeypatch, dotenv):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert config.database_url().startswith("sqlite:///") and "/var/unisono.db" in config.database_url()


@pytest.mark.parametrize("value, days", [(None, 730), ("30", 30), (" 365 ", 365), ("0", 730), ("-5", 730),
                                         ("dos años", 730), ("", 730)])
def test_retention_days_is_a_whole_number_of_days_or_the_default(dotenv, monkeypatch, value, days):
    if value is None:
        monkeypatch.delenv("RETENTION_DAYS", raising=False)
    else:
        monkeypatch.setenv("RETENTION_DAYS", value)
    assert config.retention_days() == days
