"""The backend interface the actions talk to, and its SQL implementation."""
from __future__ import annotations

from functools import lru_cache

from actions.backend.base import Backend


@lru_cache(maxsize=1)
def get_backend() -> Backend:
    """The configured backend; the demo SQL one unless replaced."""
    from actions.backend.sql import SqlBackend

    return SqlBackend()
