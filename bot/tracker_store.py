"""Rasa's SQL tracker store, pointed at the same database as our conversation store.

`endpoints.yml` names this class so that `DATABASE_URL` alone decides where everything lives.
"""
from __future__ import annotations

from typing import Any, Optional

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from sqlalchemy.engine import make_url

from bot import config


class UnisonoTrackerStore(SQLTrackerStore):
    """SQLTrackerStore configured from `DATABASE_URL` instead of separate fields."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        host: Optional[str] = None,
        event_broker: Optional[EventBroker] = None,
        **kwargs: Any,
    ) -> None:
        url = config.database_url()
        dialect = make_url(url).get_backend_name()
        kwargs.pop("dialect", None)
        super().__init__(domain, dialect=dialect, host=url, event_broker=event_broker, **kwargs)
