"""One way to run an Alembic chain configured in code (no alembic.ini), for every schema owner.

The core's chain (`bot/migrations`) and the demo ERP's (`actions/backend/migrations`) live in one
database with separate version tables; each `env.py` is a single call of `run()` with its own
metadata, so each chain compares and migrates only the tables it owns. The URL comes from the
Alembic config's attributes (set by whoever runs the chain) or else `bot.config.database_url()`.
"""
from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import MetaData

from bot import config as settings
from bot.db import UTCDateTime, get_engine


def _url() -> str:
    return context.config.attributes.get("url") or settings.database_url()


def _render_item(type_: str, obj: Any, autogen_context: Any) -> Any:
    """Migrations spell UTCDateTime as the plain DateTime it stores, so they never import app code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def _configure(target_metadata: MetaData, version_table: str, **kwargs: Any) -> None:
    def include_name(name: str, type_: str, parent_names: Any) -> bool:
        """Only tables of this chain: the same database holds the other chain's and Rasa's `events`."""
        return name in target_metadata.tables if type_ == "table" else True

    context.configure(
        target_metadata=target_metadata,
        version_table=version_table,
        include_name=include_name,
        render_item=_render_item,
        compare_type=True,
        render_as_batch=_url().startswith("sqlite"),  # SQLite can only ALTER by copying tables
        **kwargs,
    )


def run(target_metadata: MetaData, version_table: str = "alembic_version") -> None:
    """Runs the current Alembic command (upgrade, downgrade, check) for one chain."""
    if context.is_offline_mode():
        _configure(target_metadata, version_table, url=_url(), literal_binds=True,
                   dialect_opts={"paramstyle": "named"})
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(target_metadata, version_table, connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    with get_engine(_url()).connect() as connection:
        _configure(target_metadata, version_table, connection=connection)
        with context.begin_transaction():
            context.run_migrations()
