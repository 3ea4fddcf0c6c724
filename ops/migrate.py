"""Brings a database to the latest schema: the core's Alembic chain, then the demo ERP's.

Configured in code (no alembic.ini). Each schema owner keeps its own chain and version table:
the core's tables in `bot/migrations` (`alembic_version`), the ERP's in `actions/backend`
(`backend_alembic_version`, through `actions.backend.schema`). The core's goes first, as its
revision 0001 still creates the ERP's tables on a fresh database, which the ERP's then adopts.
`python -m ops.migrate` or `upgrade()`; a no-op when everything is current.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from alembic import command
from alembic.config import Config

from actions.backend import schema as backend_schema
from bot import config as settings

CORE_SCRIPTS = Path(__file__).resolve().parent.parent / "bot" / "migrations"


def alembic_config(url: Optional[str] = None) -> Config:
    """An Alembic Config of the core's chain for `url` (default: the configured database)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(CORE_SCRIPTS))
    # Passed as an attribute, not an ini option: configparser would choke on '%' in passwords.
    cfg.attributes["url"] = url or settings.database_url()
    return cfg


def upgrade(url: Optional[str] = None) -> None:
    """Every chain to its latest revision: the core's, then the ERP's."""
    upgrade_core(url)
    backend_schema.upgrade(url)


def downgrade(url: Optional[str] = None) -> None:
    """Every chain to nothing (tests, development). The core's goes first: its 0002 alters `orders`."""
    downgrade_core(url)
    backend_schema.downgrade(url)


def upgrade_core(url: Optional[str] = None, revision: str = "head") -> None:
    """Only the core's chain, to `revision`."""
    command.upgrade(alembic_config(url), revision)


def downgrade_core(url: Optional[str] = None, revision: str = "base") -> None:
    """Only the core's chain, back to `revision`."""
    command.downgrade(alembic_config(url), revision)


if __name__ == "__main__":
    upgrade()
    print("database is at the latest revision")
