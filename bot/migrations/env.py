"""Alembic environment, configured in code: `bot.migrate.upgrade()` runs it, no alembic.ini needed.

The URL comes from the Alembic config (set by bot.migrate) or else `bot.config.database_url()`.
Tables this project does not define (Rasa's `events`) are left alone by autogenerate.
"""
from __future__ import annotations

from alembic import context

import actions.backend.tables  # noqa: F401  (registers the business tables on Base.metadata)
import bot.store.models  # noqa: F401  (registers the conversation store tables)
from bot import config as settings
from bot.db import Base, UTCDateTime, get_engine

target_metadata = Base.metadata


def _url() -> str:
    return context.config.attributes.get("url") or settings.database_url()


def _include_name(name, type_, parent_names) -> bool:  # type: ignore[no-untyped-def]
    """Only compare tables we own; the same database also holds Rasa's tracker store."""
    if type_ == "table":
        return name in target_metadata.tables
    return True


def _render_item(type_, obj, autogen_context):  # type: ignore[no-untyped-def]
    """Migrations spell UTCDateTime as the plain DateTime it stores, so they never import app code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def _configure(**kwargs) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        target_metadata=target_metadata,
        include_name=_include_name,
        render_item=_render_item,
        compare_type=True,
        render_as_batch=_url().startswith("sqlite"),  # SQLite can only ALTER by copying tables
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    with get_engine(_url()).connect() as connection:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
