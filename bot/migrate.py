"""Brings a database to the latest schema with Alembic, configured in code (no alembic.ini).

Run `python -m bot.migrate` or call `upgrade()` at start-up; it is a no-op when already current.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from alembic import command
from alembic.config import Config

from bot import config as settings

SCRIPT_LOCATION = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: Optional[str] = None) -> Config:
    """An Alembic Config for `url` (default: the configured database)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    # Passed as an attribute, not an ini option: configparser would choke on '%' in passwords.
    cfg.attributes["url"] = url or settings.database_url()
    return cfg


def upgrade(url: Optional[str] = None, revision: str = "head") -> None:
    """Runs `alembic upgrade <revision>` against `url`."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: Optional[str] = None, revision: str = "base") -> None:
    """Runs `alembic downgrade <revision>` against `url` (tests, development)."""
    command.downgrade(alembic_config(url), revision)


if __name__ == "__main__":
    upgrade()
    print("database is at the latest revision")
