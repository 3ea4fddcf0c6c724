"""The demo ERP's schema step: its own Alembic chain (`migrations/`), its own version table.

The ERP owns its tables, so a change to them is a revision here, never in the core's chain. On
databases made before the split, the core's revisions 0001/0002 had already created these tables;
this chain's first revision adopts them (it creates only what is absent). Run it after the core's
chain (`ops.migrate.upgrade` does): on a fresh database the core's 0001 still creates them too.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from alembic import command
from alembic.config import Config

from bot import config as settings

SCRIPT_LOCATION = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "backend_alembic_version"


def alembic_config(url: Optional[str] = None) -> Config:
    """An Alembic Config of the ERP's chain for `url` (default: the configured database)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    # An attribute, not an ini option: configparser would choke on '%' in passwords.
    cfg.attributes["url"] = url or settings.database_url()
    return cfg


def upgrade(url: Optional[str] = None, revision: str = "head") -> None:
    """Brings the ERP's tables to `revision`; a no-op when already there."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: Optional[str] = None, revision: str = "base") -> None:
    """Takes the ERP's tables back to `revision` (tests, development)."""
    command.downgrade(alembic_config(url), revision)
