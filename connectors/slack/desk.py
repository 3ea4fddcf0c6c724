"""The agents' desk in Slack: one thread per hand-off, claimed, answered and handed back there.

The hub tells the desk about escalations and customer messages (the `Desk` protocol); the Slack
endpoint (connectors/slack/endpoint.py) turns agents' clicks, replies and commands into the
methods below. Methods an agent triggers return the feedback for that agent (shown ephemerally),
or None. Its state lives in the core's store (bot/store/desk.py); business hours come from the
service calendar (service.yml, bot/service.py); orders and tickets from ./business.py. Every
message posted about a conversation, and every agent's reply in its thread, is recorded (channel
and ts) so that erasing the person deletes it here (./erasure.py); what agents do with a
conversation goes to the audit trail (bot/audit.py) as "agent:<Slack user id>".
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from typing import Any, Awaitable, Callable, Optional

from slack_sdk.web.async_client import AsyncWebClient

from bot import audit, db, jobs, service
from bot.conversations import Party
from bot.db import utcnow
from bot.hub import Accepted, Hub
from bot.messages import Outbound
from bot.store import desk as store
from bot.store.desk import Markers
from bot.texts import text as customer_text
from connectors.slack import business, erasure
from connectors.slack.blocks import (
    Summary,
    agent_text,
    customer_line,
    escape,
    show_address,
    summary_blocks,
    title,
)
from connectors.slack.sla_alerts import SlaAlerts

logger = logging.getLogger(__name__)

CHANNEL = "slack"  # the channel of the desk's own (private) messages and markers
CSAT_WINDOW = dt.timedelta(hours=24)
RETRY_GRACE = dt.timedelta(seconds=30)  # a hand-off with no thread after this is posted again
REMINDER_JOB = "slack_reminder"  # the timer of a hand-off's one reminder (ref: the conversation id)

Resumer = Callable[[str], Awaitable[None]]
Clock = Callable[[], dt.datetime]


def parse_csat(text: str) -> Optional[int]:
    """1..5 from "5", "5 estrellas", "4/5", "⭐⭐⭐"; None for anything else."""
    folded = text.replace("\ufe0f", "").strip().lower()
    if not folded:
        return None
    stars = folded.count("⭐") + folded.count("★")
    if stars and not re.sub(r"[⭐★\s.!]", "", folded):
        return stars if 1 <= stars <= 5 else None
    match = re.fullmatch(r"([1-5])\s*(?:/\s*5|de\s+5|estrellas?|stars?|[⭐★]+)?[\s.!]*", folded)
    return int(match.group(1)) if match else None


_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def slack_to_plain(text: str) -> str:
    """An agent's Slack message as the customer should read it: no markup, no entities."""

    def link(match: re.Match) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith(("@", "#")):
            return "@" + label if target.startswith("@") and label else (("#" + label) if label else target)
        if target.startswith("!"):
            return label or "@" + target[1:].split("^")[0]
        if target.startswith("mailto:"):
            return label or target[7:]
        return f"{label} ({target})" if label and label != target else target

    plain = _LINK.sub(link, text)
    return plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


class SlackDesk:
    """Implements the hub's Desk protocol on top of a Slack channel of agents."""

    def __init__(
        self,
        hub: Hub,
        client: AsyncWebClient,
        channel: str,
        reminder_minutes: float = 5.0,
        now: Clock = utcnow,
        resumer: Optional[Resumer] = None,
        backend: Any = None,
        calendar: Optional[service.Calendar] = None,
    ) -> None:
        self.hub = hub
        self.client = client
        self.channel = channel
        self.reminder_minutes = reminder_minutes
        self.now = now  # the clock business hours are judged by (HANDOFF_NOW fixes it in demos)
        self.resumer = resumer
        self.backend = backend  # the business's Backend; None: the configured one (see ./business.py)
        self.calendar = calendar or service.calendar()
        self.markers = Markers(CHANNEL)
        hub.jobs.handle(REMINDER_JOB, self._remind)
        self.sla = SlaAlerts(client, channel, hub.jobs, self.markers, backend)  # SLA warnings and breaches
        hub.jobs.handle(erasure.ERASE_JOB, erasure.job_handler(client, channel))

    # -- the hub's side ---------------------------------------------------------------------
    async def escalated(self, conversation_id: str) -> None:
        """Posts the hand-off thread once per hand-off. Never raises: the customer already has
        their answer, and the background loop posts again if Slack was down."""
        try:
            await self._escalate(conversation_id)
        except Exception:  # noqa: BLE001
            logger.exception("could not post the hand-off of %s to Slack", conversation_id)

    async def _escalate(self, conversation_id: str) -> None:
        current = store.snapshot(conversation_id)
        if current is None or current.status != "waiting_agent":
            return
        key = store.handoff_key("thread", current)
        if not self.markers.mark(conversation_id, key, payload={"kind": "slack_thread"}):
            return  # this hand-off already has its thread
        try:
            await self._after_hours(current)
            summary = self._summary(current)
            posted = await self.client.chat_postMessage(
                channel=self.channel,
                text=title(summary),
                blocks=summary_blocks(summary, "waiting_agent"),
                unfurl_links=False,
                unfurl_media=False,
            )
        except BaseException:
            self.markers.unmark(key)
            raise
        store.set_thread(conversation_id, posted["ts"])
        self._posted(conversation_id, posted, "summary")
        logger.info("conversation %s is waiting for an agent in Slack (thread %s)", conversation_id, posted["ts"])

    async def customer_wrote(self, conversation_id: str, message_id: int, text: str) -> None:
        """The customer's words in the hand-off thread, escaped. Never raises (see escalated)."""
        try:
            current = store.snapshot(conversation_id)
            if current is None or not current.thread_ts or not self.markers.is_marked(store.handoff_key("thread", current)):
                logger.warning("message %s of %s has no thread yet; its summary will show it", message_id, conversation_id)
                return
            line = customer_line(current.name, current.last_channel, text)
            posted = await self.client.chat_postMessage(
                channel=self.channel,
                thread_ts=current.thread_ts,
                text=line,
                blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": line[:2900], "verbatim": True}}],
                unfurl_links=False,
                unfurl_media=False,
            )
            self._posted(conversation_id, posted, "relay")
        except Exception:  # noqa: BLE001
            logger.exception("could not relay message %s of %s to Slack", message_id, conversation_id)

    async def csat_interceptor(
        self, accepted: Accepted, party: Party, lang: Optional[str]
    ) -> Optional[list[Outbound]]:
        """The satisfaction answer after a resolved conversation; anything else goes on to the bot."""
        if party.status != "closed":
            return None
        score = parse_csat(accepted.text or accepted.inbound.payload or "")
        if score is None:
            return None
        stored, agent = store.record_csat(party.conversation_id, score, CSAT_WINDOW)
        if not stored:
            return None
        current = store.snapshot(party.conversation_id)
        if current is not None and current.thread_ts:
            await self._say_in_thread(current.thread_ts, agent_text("csat", agent=agent or "?", score=score), current.id)
        return [Outbound(customer_text("csat_thanks", lang or party.language))]

    # -- the agents' side -------------------------------------------------------------------
    async def claim(self, conversation_id: str, agent: str) -> Optional[str]:
        """Exactly one agent wins a waiting conversation (a conditional UPDATE decides)."""
        if store.claim(conversation_id, agent):
            current = store.snapshot(conversation_id)
            if current is not None:
                await self._audit(agent, "handoff.claim", current)
                await self._refresh_root(current, agent)
                if current.thread_ts:
                    await self._say_in_thread(current.thread_ts, agent_text("claimed", agent=agent), current.id)
            logger.info("conversation %s claimed by %s", conversation_id, agent)
            return None
        current = store.snapshot(conversation_id)
        if current is None:
            return agent_text("unknown_conversation", conversation_id=escape(conversation_id))
        if current.status == "agent":
            if current.assigned_agent == agent:
                return agent_text("already_yours")
            return agent_text("already_claimed", agent=current.assigned_agent)
        return agent_text("not_waiting", status=current.status)

    async def agent_wrote(self, thread_ts: str, ts: str, user: str, text: str) -> Optional[str]:
        """A human's reply in a thread: to the customer, a private note, or "resolve"."""
        current = store.by_thread(thread_ts)
        if current is None:
            return agent_text("no_conversation")
        stripped = text.strip()
        lowered = stripped.lower()
        kind = "reply"
        if lowered in ("resolve", "/resolve"):
            kind = "resolve"
        elif lowered.startswith("note:"):
            kind = "note"
        body = stripped[5:].strip() if kind == "note" else stripped
        # The Slack message itself, stored once: a retried event finds it and stops here.
        if not self.markers.mark(current.id, f"msg:{ts}", text=body, author="agent", direction="in",
                          payload={"kind": kind, "slack_user": user, "slack_ts": ts}):
            return None
        self._posted(current.id, {"ts": ts}, "agent")  # an agent's reply is about the person too
        if kind == "note":
            await self._audit(user, "handoff.note", current)
            return agent_text("note_saved")
        if kind == "resolve":
            return await self.resolve(current.id, user)
        if current.status not in store.WITH_PEOPLE:
            return agent_text("not_with_people", status=current.status)
        if current.status == "waiting_agent":
            await self.claim(current.id, user)
        plain = slack_to_plain(body)
        if not plain:
            return None
        try:
            message_id = await self.hub.send(current.id, Outbound(plain), author="agent")
        except Exception:  # noqa: BLE001 - a stored reply is retried by the outbox; the agent is told
            logger.exception("could not relay %s's reply to %s", user, current.id)
            return agent_text("relay_failed")
        await self._audit(user, "handoff.reply", current, message=message_id)
        logger.info("agent %s answered %s (message %s)", user, current.id, message_id)
        return None

    async def resolve(self, conversation_id: str, agent: str) -> Optional[str]:
        """Closes the conversation, gives it back to Rasa and asks the customer for a rating."""
        return await self._finish(conversation_id, agent, "closed")

    async def return_to_bot(self, conversation_id: str, agent: str) -> Optional[str]:
        """Gives the conversation back to the bot without closing it (no survey)."""
        return await self._finish(conversation_id, agent, "bot")

    async def _finish(self, conversation_id: str, agent: str, status: str) -> Optional[str]:
        current = store.snapshot(conversation_id)
        if current is None:
            return agent_text("unknown_conversation", conversation_id=escape(conversation_id))
        if current.status not in store.WITH_PEOPLE:
            return agent_text("not_waiting", status=current.status)
        try:
            await self._resume(conversation_id)
        except Exception:  # noqa: BLE001 - the conversation stays with the agents, who can retry
            logger.exception("could not resume the tracker of %s", conversation_id)
            return agent_text("resume_failed")
        if not store.finish(conversation_id, status, agent):
            current = store.snapshot(conversation_id)
            return agent_text("not_waiting", status=current.status if current else "?")
        current = store.snapshot(conversation_id)
        if current is None:
            return None
        done = "resolved" if status == "closed" else "returned"
        await self._audit(agent, "handoff.resolve" if status == "closed" else "handoff.return", current)
        await self._refresh_root(current, agent)
        if current.thread_ts:
            await self._say_in_thread(current.thread_ts, agent_text(done, agent=agent), current.id)
        key = "csat_question" if status == "closed" else "returned"
        await self.hub.send(conversation_id, Outbound(customer_text(key, current.language)), author="system")
        logger.info("conversation %s %s by %s", conversation_id, done, agent)
        return None

    async def _resume(self, conversation_id: str) -> None:
        if self.resumer is None:
            logger.warning("no Rasa agent to resume %s in; the bot stays paused for it", conversation_id)
            return
        await self.resumer(conversation_id)

    # -- reminders and missed threads -------------------------------------------------------
    async def tick(self, now: Optional[dt.datetime] = None) -> None:
        """One pass over the queue: re-post missed threads, set each unclaimed hand-off's reminder
        (a durable timer any replica runs once), run the reminders due, and the SLA timers' pass.

        `now` (default: the current time) is when the pass happens; tests pass their own.
        """
        now = now or utcnow()
        for current in store.waiting():
            if current.handed_off_at is None:
                continue
            if not self.markers.is_marked(store.handoff_key("thread", current)):
                if now - current.handed_off_at >= RETRY_GRACE:
                    await self.escalated(current.id)
                continue
            if current.thread_ts:
                self._set_reminder(current)
        await self.hub.jobs.run_due([REMINDER_JOB], due_by=now)
        await self.sla.tick(now)

    def _set_reminder(self, current: store.Snapshot) -> None:
        key = store.handoff_key("reminder", current)
        if not self.markers.is_marked(key):
            assert current.handed_off_at is not None
            due = current.handed_off_at + dt.timedelta(minutes=self.reminder_minutes)
            jobs.schedule(REMINDER_JOB, current.id, due_at=due, key=key, payload={"key": key})

    async def _remind(self, job: jobs.Job) -> None:
        """The one reminder of a hand-off nobody claimed; a refusal by Slack is tried again later."""
        current = store.snapshot(job.ref or "")
        key = (job.payload or {}).get("key")
        if (current is None or current.status != "waiting_agent" or not current.thread_ts
                or key != store.handoff_key("reminder", current) or self.markers.is_marked(key)):
            jobs.complete(job.id)  # claimed, a new hand-off, or already reminded
            return
        minutes = f"{self.reminder_minutes:g}"
        if not await self._say_in_thread(current.thread_ts, agent_text("reminder", minutes=minutes), current.id):
            raise RuntimeError("Slack did not take the reminder")
        # Marked after posting: a replica dying in between sends it twice rather than never.
        self.markers.mark(current.id, key, text="reminder", payload={"kind": "slack_reminder"})
        jobs.complete(job.id)

    async def run_forever(self, interval: float) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - the loop must outlive a bad moment of the database
                logger.exception("Slack desk pass failed")
            await asyncio.sleep(interval)

    # -- helpers ----------------------------------------------------------------------------
    async def _after_hours(self, current: store.Snapshot) -> None:
        """Outside business hours: a ticket, and the customer told when they will hear back."""
        opening = self.calendar.next_opening(self.now())
        key = store.handoff_key("after_hours", current)
        if opening is None or self.markers.is_marked(key):
            return
        ticket_id = business.after_hours_ticket(current, store.last_customer_text(current.id), self.backend)
        payload = {"kind": "after_hours", "ticket": ticket_id, "opening": opening.isoformat()}
        if not self.markers.mark(current.id, key, payload=payload):
            return
        lang = current.language
        text = customer_text(
            "after_hours" if ticket_id else "after_hours_no_ticket",
            lang,
            ticket=ticket_id,
            when=business.when(opening, lang),
            hours=self.calendar.describe(lang),
        )
        await self.hub.send(current.id, Outbound(text), author="system")

    def _summary(self, current: store.Snapshot) -> Summary:
        notes: list[str] = []
        try:
            work = business.open_work(current, self.backend)
        except Exception:  # noqa: BLE001 - a summary without orders beats no hand-off at all
            logger.exception("backend lookup for the summary of %s failed", current.id)
            notes.append("⚠️ No se pudieron consultar pedidos ni tickets · orders and tickets unavailable.")
            work = business.OpenWork(distributor="Sí / Yes" if current.is_distributor else None)
        after_hours = self.markers.payload(store.handoff_key("after_hours", current))
        if after_hours:
            if after_hours.get("ticket"):
                when = business.when(dt.datetime.fromisoformat(after_hours["opening"]), "es")
                notes.append(agent_text("after_hours", ticket=after_hours["ticket"], when=when))
            else:
                notes.append(agent_text("after_hours_no_ticket"))
        return Summary(
            conversation_id=current.id,
            name=current.name,
            channel=current.last_channel,
            language=current.language,
            identities=tuple(
                f"{i.channel}: {show_address(i.channel, i.address)}" + (" ✔︎" if i.verified else "")
                for i in store.identities(current.contact_id)
            ),
            phone=current.phone,
            email=current.email,
            distributor=work.distributor,
            orders=tuple(work.orders),
            tickets=tuple(work.tickets),
            messages=tuple(store.recent_messages(current.id)),
            notes=tuple(notes),
        )

    async def _refresh_root(self, current: store.Snapshot, agent: Optional[str]) -> None:
        """Shows on the root message who holds the conversation (or who ended it), with the buttons that fit."""
        if not current.thread_ts:
            return
        shown = agent if current.status in ("closed", "bot") else (current.assigned_agent or agent)
        try:
            summary = self._summary(current)
            await self.client.chat_update(
                channel=self.channel,
                ts=current.thread_ts,
                text=title(summary),
                blocks=summary_blocks(summary, current.status, shown),
            )
        except Exception:  # noqa: BLE001 - the state is in the store; the message is a view of it
            logger.exception("could not update the Slack summary of %s", current.id)

    async def _say_in_thread(self, thread_ts: str, text: str, conversation_id: Optional[str] = None) -> bool:
        try:
            posted = await self.client.chat_postMessage(channel=self.channel, thread_ts=thread_ts, text=text)
        except Exception:  # noqa: BLE001
            logger.exception("could not post in Slack thread %s", thread_ts)
            return False
        if conversation_id:
            self._posted(conversation_id, posted, "notice")
        return True

    def _posted(self, conversation_id: str, posted: Any, kind: str) -> None:
        """Records a message just posted about the conversation: erasing the person deletes it."""
        try:
            store.record_post(conversation_id, posted.get("channel") or self.channel, posted["ts"], kind)
        except Exception:  # noqa: BLE001 - the message is posted; that it could not be listed is logged
            logger.exception("could not record a %s message about %s; erasing the person will miss it", kind,
                             conversation_id)

    async def _audit(self, user: str, action: str, current: store.Snapshot, **detail: Any) -> None:
        """What an agent did with the conversation, in the audit trail (never fails the action)."""
        try:
            await db.call(audit.record, f"agent:{user or '?'}", action, current.contact_id,
                          {"conversation": current.id, **detail})
        except Exception:  # noqa: BLE001 - the agent's action is done; a missing entry is logged
            logger.exception("could not record %s by %s in the audit trail", action, user)

    async def ephemeral(self, user: str, text: str, thread_ts: Optional[str] = None) -> None:
        """A message only `user` sees, in the agents' channel (or one of its threads)."""
        kwargs: dict[str, Any] = {"channel": self.channel, "user": user, "text": text}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        try:
            await self.client.chat_postEphemeral(**kwargs)
        except Exception:  # noqa: BLE001
            logger.exception("could not send an ephemeral message to %s", user)
