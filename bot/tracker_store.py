"""Rasa's SQL tracker store, pointed at the same database as our conversation store.

`endpoints.yml` names this class so that `DATABASE_URL` alone decides where everything lives.
"""
from __future__ import annotations

import contextlib
import json
from typing import Any, Generator, Optional

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore, ensure_schema_exists
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy.engine import make_url

from bot import config, db
from bot.conversations import fence
from bot.turn_lock import held_lease


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
        if dialect == "sqlite" and make_url(url).database not in (None, "", ":memory:"):
            # Rasa's engine opens a new SQLite connection per session (SQLAlchemy 1.4's NullPool),
            # and closing the last one checkpoints the WAL: tens of ms per turn. Pool it, with the
            # same pragmas as our store.
            from sqlalchemy import create_engine, event
            from sqlalchemy.orm import sessionmaker
            from sqlalchemy.pool import QueuePool

            from bot.db import _on_sqlite_connect

            self.engine.dispose()
            self.engine = create_engine(
                url, poolclass=QueuePool, pool_size=5, max_overflow=10, connect_args={"check_same_thread": False}
            )
            event.listen(self.engine, "connect", _on_sqlite_connect)
            self.sessionmaker = sessionmaker(bind=self.engine)
        # Reliability fix (tests/reliability/test_privacy_logs.py): a failed INSERT of events would
        # otherwise log the customer's words with the error.
        self.engine.hide_parameters = True

    @contextlib.contextmanager
    def session_scope(self) -> Generator[Any, None, None]:
        """Rasa's session scope, without its sys.exit() on any ValueError.

        Reliability fix (tests/reliability/test_faults.py): Rasa reads every ValueError raised in a
        tracker session (an unreadable stored event, psycopg2 refusing a NUL character) as "schema
        missing" and exits, which took the whole server down for one bad conversation. Here the
        error stays an error of that message: the hub tells the customer and retries, then
        escalates. (A missing POSTGRESQL_SCHEMA is then an error on every message, in the log.)
        """
        session = self.sessionmaker()
        try:
            ensure_schema_exists(session)
            yield session
        finally:
            session.close()

    # Rasa's SQLTrackerStore declares these async but runs its queries on the event loop: with
    # PostgreSQL every message of every conversation waited for each tracker read and write.
    # The same queries run through bot.db.call: on the store's threads for a database server,
    # in place on SQLite.
    async def _retrieve(self, sender_id: str, fetch_events_from_all_sessions: bool) -> Optional[DialogueStateTracker]:
        return await db.call(self._retrieve_blocking, sender_id, fetch_events_from_all_sessions)

    def _retrieve_blocking(self, sender_id: str, fetch_events_from_all_sessions: bool) -> Optional[DialogueStateTracker]:
        with self.session_scope() as session:
            rows = self._event_query(session, sender_id, fetch_events_from_all_sessions=fetch_events_from_all_sessions).all()
            events = [json.loads(row.data) for row in rows]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    async def save(self, tracker: DialogueStateTracker) -> None:
        # The turn's fencing token: a replica that lost the conversation's lease stores no events.
        lease = held_lease(tracker.sender_id)
        token = lease.token if lease is not None else None
        await self.stream_events(tracker)
        await db.call(self._save_blocking, tracker, token)

    def _save_blocking(self, tracker: DialogueStateTracker, token: Optional[int] = None) -> None:
        with self.session_scope() as session:
            if token is not None:
                fence(session, tracker.sender_id, token)
            for event in list(self._additional_events(session, tracker)):
                data = event.as_dict()
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.commit()
