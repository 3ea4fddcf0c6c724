"""Alembic environment of the demo ERP's tables, with its own version table.

`actions.backend.schema` runs it; the core's chain never sees these tables (nor this one the core's).
"""
from __future__ import annotations

from actions.backend.schema import VERSION_TABLE
from actions.backend.tables import Base
from bot.alembic_env import run

run(Base.metadata, VERSION_TABLE)
