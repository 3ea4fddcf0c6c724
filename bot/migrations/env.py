"""Alembic environment of the core's tables (the conversation store), configured in code.

`ops.migrate` runs it (no alembic.ini needed). Revisions 0001 and 0002 also created the demo ERP's
tables; since then the ERP owns them in its own chain (`actions/backend/migrations`), which adopts
them where they exist. This chain compares only the core's tables.
"""
from __future__ import annotations

import bot.store.models  # noqa: F401  (registers the conversation store tables)
from bot.alembic_env import run
from bot.db import Base

run(Base.metadata)
