"""SLA alerts at the agents' desk: a warning at 80 % of a promise's business time, an alert when
it is breached; in the hand-off's thread, or in the agents' channel for a ticket.

The clocks and their timers are the core's (bot/sla.py); this module handles the timers
(`sla_warning`, `sla_breach`: durable jobs any replica may run) and decides on the spot whether
the promise still stands. A ticket the backend closed, or a hand-off answered or ended, stops its
clock and nothing is posted. Each alert is posted once, whichever replica runs it and after
restarts: its row in `sla_alerts` is claimed before the post and confirmed after, and a claim
left unconfirmed (its poster died, or lost Slack's answer) is looked up in Slack, by the key in
the message's metadata, before it is posted again.

Agents read both languages in one line, as everywhere at the desk (blocks.AGENT_TEXTS). The alerts
name tickets, areas, priorities and times, never what a customer said or who they are.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Callable, Optional

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import db, jobs, sla
from bot.db import utcnow
from bot.store import desk as desk_store
from bot.store import sla as store
from bot.store.desk import Markers
from bot.store.sla import Clock
from connectors.slack import business

logger = logging.getLogger(__name__)

SLA_TEXTS: dict[str, str] = {
    "handoff_warned": "⚠️ <!here> SLA: nadie ha respondido al cliente; la primera respuesta vence el {when_es} "
    "({minutes} min hábiles) · nobody has answered the customer yet; the first reply is due {when_en} "
    "({minutes} business min).",
    "handoff_breached": "🚨 <!here> SLA incumplido: ningún asesor ha respondido al cliente; vencía el {when_es} · "
    "SLA breached: no agent has answered the customer; it was due {when_en}.",
    "ticket_warned": "⚠️ SLA: el ticket *{ticket}* ({area_es}, prioridad {priority_es}) vence el {when_es} · "
    "ticket *{ticket}* ({area_en}, {priority_en} priority) is due {when_en}.",
    "ticket_breached": "🚨 SLA incumplido: el ticket *{ticket}* ({area_es}, prioridad {priority_es}) venció el "
    "{when_es} y sigue abierto · SLA breached: ticket *{ticket}* ({area_en}, {priority_en} priority) was due "
    "{when_en} and is still open.",
}
METADATA_TYPE = "unisono_sla_alert"  # the alert's key rides in the message: a lost answer can be found
TICKET_SWEEP = dt.timedelta(minutes=1)  # how often the backend is asked which timed tickets it closed
LOOKUP_MARGIN = dt.timedelta(minutes=10)  # clocks of replicas and Slack disagree by less than this
LOOKUP_PAGES = 10


class AlertBusy(RuntimeError):
    """Another replica is posting this alert right now: the job is tried again later."""


def alert_key(clock: Clock, level: str) -> str:
    return f"{clock.kind}:{clock.ref}:{clock.episode}:{level}"


def alert_text(clock: Clock, level: str) -> str:
    """What agents read: the promise, its due time in both languages, no customer data."""
    detail = clock.detail or {}
    values: dict[str, Any] = {"when_es": business.when(clock.due_at, "es"), "when_en": business.when(clock.due_at, "en")}
    if clock.kind == "ticket":
        area_es, priority_es = business.ticket_words(detail.get("area"), detail.get("priority"), "es")
        area_en, priority_en = business.ticket_words(detail.get("area"), detail.get("priority"), "en")
        values.update(ticket=clock.ref, area_es=area_es, priority_es=priority_es, area_en=area_en,
                      priority_en=priority_en)
    else:
        values["minutes"] = f"{float(detail.get('minutes') or sla.targets().handoff_minutes):g}"
    return SLA_TEXTS[f"{clock.kind}_{level}"].format(**values)


class SlaAlerts:
    """Runs the SLA timers of the service at one Slack channel of agents."""

    def __init__(self, client: AsyncWebClient, channel: str, scheduler: jobs.Scheduler, markers: Markers,
                 backend: Any = None, now: Callable[[], dt.datetime] = utcnow) -> None:
        self.client = client
        self.channel = channel
        self.scheduler = scheduler
        self.markers = markers  # the desk's done-once facts: which hand-off has its thread posted
        self.backend = backend  # the business's Backend; None: the configured one
        self.now = now
        self._swept_at: Optional[dt.datetime] = None
        for kind in (sla.WARNING_JOB, sla.BREACH_JOB):
            scheduler.handle(kind, self._run)

    async def tick(self, now: Optional[dt.datetime] = None) -> None:
        """One pass: times new hand-offs, stops the clocks of hand-offs answered or ended and (once
        a minute) of tickets the backend closed, then runs the alerts due by `now`."""
        now = now or self.now()
        await db.call(sla.start_handoffs)
        await db.call(sla.sweep_handoffs, now)
        if self._swept_at is None or abs(now - self._swept_at) >= TICKET_SWEEP:
            self._swept_at = now
            await db.call(self.sweep_tickets, now)
        await self.scheduler.run_due([sla.WARNING_JOB, sla.BREACH_JOB], due_by=now)

    def sweep_tickets(self, now: dt.datetime) -> int:
        """Stops the clocks of timed tickets the backend has closed; returns how many."""
        stopped = 0
        for clock in store.running("ticket"):
            try:
                if not business.ticket_open(clock.ref, self.backend):
                    stopped += sla.stop(clock, now)
            except Exception:  # noqa: BLE001 - the next sweep asks again; alerts check on their own
                logger.exception("could not ask the backend about ticket %s", clock.ref)
                break
        return stopped

    # -- the timers -------------------------------------------------------------------------------
    async def _run(self, job: jobs.Job) -> None:
        level = sla.LEVEL_OF_JOB[job.kind]
        payload = job.payload or {}
        clock = await db.call(store.clock, str(payload.get("kind")), job.ref or "", str(payload.get("episode")))
        if clock is not None and clock.stopped_at is None:
            if not await self._stands(clock):
                await db.call(sla.stop, clock)
            elif level == "breached" or self.now() < clock.due_at:  # a late warning: the breach says it
                await self._post_once(clock, level, await self._where(clock))
        await db.call(jobs.complete, job.id)

    async def _stands(self, clock: Clock) -> bool:
        """Whether the promise is still open: the ticket not closed, the hand-off not answered nor ended."""
        if clock.kind == "ticket":
            return await db.call(business.ticket_open, clock.ref, self.backend)
        return await db.call(sla.handoff_open, clock.ref, clock.episode)

    async def _where(self, clock: Clock) -> Optional[str]:
        """The thread of a hand-off's alert (None: a ticket's goes to the channel itself)."""
        if clock.kind == "ticket":
            return None
        current = await db.call(desk_store.snapshot, clock.ref)
        posted = current is not None and await db.call(self.markers.is_marked, desk_store.handoff_key("thread", current))
        if current is None or not current.thread_ts or not posted:
            raise RuntimeError("the hand-off has no thread yet")  # the desk posts it; tried again later
        return current.thread_ts

    async def _post_once(self, clock: Clock, level: str, thread: Optional[str]) -> None:
        claim = await db.call(store.claim_alert, clock, level, self.scheduler.owner,
                              dt.timedelta(seconds=self.scheduler.lease))
        if claim == "sent":
            return
        if claim == "busy":
            raise AlertBusy(alert_key(clock, level))
        if claim == "unsure":
            found = await self._find(clock, level, thread)
            if found is not None:
                await db.call(store.confirm_alert, clock, level, found, self.now())
                return
        try:
            posted = await self.client.chat_postMessage(
                channel=self.channel, thread_ts=thread, text=alert_text(clock, level), unfurl_links=False,
                metadata={"event_type": METADATA_TYPE, "event_payload": {"key": alert_key(clock, level)}},
            )
        except SlackApiError:
            await db.call(store.release_alert, clock, level)  # Slack refused it: nothing was posted
            raise
        await db.call(store.confirm_alert, clock, level, posted.get("ts"), self.now())
        logger.info("SLA alert (%s) posted for %s %s", level, clock.kind, clock.ref)

    async def _find(self, clock: Clock, level: str, thread: Optional[str]) -> Optional[str]:
        """The ts of this alert if an earlier attempt posted it (its key in the metadata), else None."""
        since = (clock.warn_at if level == "warned" else clock.due_at) - LOOKUP_MARGIN
        key, cursor = alert_key(clock, level), None
        for _ in range(LOOKUP_PAGES):
            kwargs: dict[str, Any] = {"channel": self.channel, "oldest": f"{since.timestamp():.6f}", "limit": 200,
                                      "include_all_metadata": True, "cursor": cursor}
            if thread:
                answer = await self.client.conversations_replies(ts=thread, **kwargs)
            else:
                answer = await self.client.conversations_history(**kwargs)
            for message in answer.get("messages") or []:
                metadata = message.get("metadata") or {}
                if metadata.get("event_type") == METADATA_TYPE and (metadata.get("event_payload") or {}).get("key") == key:
                    return str(message.get("ts") or "")
            cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if not answer.get("has_more") or not cursor:
                return None
        return None
