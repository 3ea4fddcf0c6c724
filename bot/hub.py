"""The omnichannel hub: the one entry point every connector calls.

For each inbound message, in this order: dedupe (a provider's retry is acknowledged, not
processed twice), resolve the contact from (channel, address), store the message, then route it:
to Rasa while the bot is in charge, to the agents' desk while a person is. Every reply is stored,
then sent through the channel the customer last wrote from, by the durable outbox.
"""
from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import json
import logging
import re
from dataclasses import dataclass, field, replace
from typing import Any, Awaitable, Callable, Optional, Protocol

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from sqlalchemy.orm import Session

from bot import conversations, db, handoff, jobs, language, linking, notices, rasa_tuning, retention
from bot.conversations import INBOUND_JOB, Party
from bot.folding import fold
from bot.messages import Button, Inbound, Outbound
from bot.outbox import Outbox, Sender
from bot.texts import text as say
from bot.turn_lock import LeaseLost, TurnLocks, get_turn_locks

logger = logging.getLogger(__name__)

rasa_tuning.install()  # every server that runs our channels runs through the hub

MAX_TEXT = 4000  # longer messages are cut here before NLU; the full text is stored
RECOVER_AFTER_SECONDS = 30.0  # a message whose turn failed is tried again this long after
RECOVERY_INTERVAL_SECONDS = 10.0  # at most this long between looks for due work
MAX_PROCESS_ATTEMPTS = 3  # then the conversation goes to a person
# Payloads a connector sets itself, not a client: Telegram's Start button and a shared contact.
CONNECTOR_PAYLOADS = frozenset({"/greet"})

RasaHandler = Callable[[UserMessage], Awaitable[None]]
# Looks at a stored message before routing; returns replies when it handled the message.
Interceptor = Callable[["Accepted", Party, Optional[str]], Awaitable[Optional[list[Outbound]]]]
# Records, in the transaction that stores the replies of a turn the bot started, that it happened.
Settle = Callable[[Session, list[int]], None]


class Desk(Protocol):
    """The agents' side (Slack, see connectors/slack/): told about escalations and customer words."""

    async def escalated(self, conversation_id: str) -> None: ...

    async def customer_wrote(self, conversation_id: str, message_id: int, text: str) -> None: ...


@dataclass(frozen=True)
class Accepted:
    """A stored inbound message waiting to be processed."""

    inbound: Inbound
    party: Party
    message_id: int
    text: str
    attempt: int = 0  # > 0 when a message that failed before is processed again
    resumed: bool = False  # left behind by another turn (a replica that died, a recovery)
    job_id: Optional[int] = None  # its processing job, claimed by this replica


@dataclass
class Receipt:
    """What became of one inbound message."""

    duplicate: bool = False
    conversation_id: Optional[str] = None
    message_id: Optional[int] = None
    replies: list[int] = field(default_factory=list)  # ids of the stored replies
    routed_to: str = "bot"  # bot | desk | system
    retry: bool = False  # the dialogue failed: the message stays `received`, to be processed again
    finished: bool = field(default=False, repr=False)  # marked processed already (with the turn's last read)


def storable(text: str) -> str:
    """`text` as every database stores it: no NUL (PostgreSQL refuses it) and no lone surrogate
    (a JSON "\\ud800" escape: not encodable as UTF-8), which would fail to store on every retry.

    Reliability fix (tests/reliability/test_bad_input.py).
    """
    return text.replace("\x00", "").encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def choose_option(text: str, buttons: tuple[Button, ...]) -> Optional[str]:
    """Maps "2", "2.", or an option's title back to that option's payload (numbered lists)."""
    if not buttons:
        return None
    stripped = text.strip().rstrip(".)")
    if re.fullmatch(r"\d{1,2}", stripped):
        index = int(stripped) - 1
        return buttons[index].payload if 0 <= index < len(buttons) else None
    folded = fold(text).strip()
    for button in buttons:
        if folded and folded == fold(button.title).strip():
            return button.payload
    return None


def _offered_payload(accepted: Accepted, party: Party, turn: conversations.Turn) -> Optional[str]:
    """The button payload, when it is one we offered (or one a connector sets itself).

    Reliability fix (tests/reliability/test_bad_input.py): a payload comes from the client (web
    chat body, Telegram callback_data), so it is honoured only when we offered it; otherwise
    "/restart" or "/session_start" would reset the dialogue, and a payload Rasa cannot answer
    would be retried as a failure and escalated. The words are kept.
    """
    payload = accepted.inbound.payload
    if payload and payload not in CONNECTOR_PAYLOADS and payload not in turn.offered:
        logger.info("message %s of %s: ignored a payload we did not offer", accepted.message_id, party.conversation_id)
        return None
    return payload


class _Collector(CollectingOutputChannel):
    """Rasa's collecting channel, also keeping which response (utter_...) said each message: Rasa
    passes it along and the plain collector drops it. The fallback's answers are told by it."""

    async def send_response(self, recipient_id: str, message: dict) -> None:
        before = len(self.messages)
        await super().send_response(recipient_id, dict(message))
        for collected in self.messages[before:]:
            collected["response"] = message.get("utter_action")


# The turn this task runs: (inbound message id, fencing token). Replies stored meanwhile answer
# that message, and are refused once a newer turn holds the conversation.
_current_turn: contextvars.ContextVar[Optional[tuple[int, int]]] = contextvars.ContextVar("turn", default=None)


class Hub:
    def __init__(self, recover_after: float = RECOVER_AFTER_SECONDS,
                 recovery_interval: float = RECOVERY_INTERVAL_SECONDS, locks: Optional[TurnLocks] = None) -> None:
        """`recover_after` and `recovery_interval` pace retries and the look for due work (tests
        shorten them); `locks` serialise a conversation's turns (default: this process's, on
        Redis when REDIS_URL is set)."""
        self.recover_after = recover_after
        self.recovery_interval = recovery_interval
        self.rasa: Optional[RasaHandler] = None
        self.senders: dict[str, Sender] = {}
        self.desk: Optional[Desk] = None
        self.locks = locks or get_turn_locks()
        self.jobs = jobs.Scheduler(interval=min(jobs.POLL_SECONDS, recovery_interval))
        self.jobs.handle(INBOUND_JOB, self._recover_job)
        self.jobs.handle(retention.JOB, retention.run_job)
        self.outbox = Outbox(self.senders, self.jobs)
        self._listeners: list[Callable[[str, int], None]] = []
        self._background: set[asyncio.Task] = set()
        self._turns: set[asyncio.Task] = set()  # processing now: a stopping replica lets them finish
        self._interceptors: list[Interceptor] = []
        self._retention_set = False
        self.notifier = notices.Notifier(self)  # order notices: jobs any replica may run

    # -- wiring ---------------------------------------------------------------------------------
    def attach_rasa(self, handler: RasaHandler) -> None:
        self.rasa = handler

    def register_sender(self, sender: Sender) -> None:
        self.senders[sender.channel] = sender

    def set_desk(self, desk: Desk) -> None:
        self.desk = desk

    def add_interceptor(self, interceptor: Interceptor) -> None:
        """Runs before routing (e.g. the satisfaction survey answer after a closed conversation)."""
        self._interceptors.append(interceptor)

    def on_message_stored(self, listener: Callable[[str, int], None]) -> None:
        """`listener(conversation_id, message_id)` after every stored public message (live views)."""
        self._listeners.append(listener)

    def _stored(self, conversation_id: str, message_id: int) -> None:
        for listener in self._listeners:
            try:
                listener(conversation_id, message_id)
            except Exception:  # noqa: BLE001 - a broken live view must not lose a message
                logger.exception("message listener failed")

    # -- inbound --------------------------------------------------------------------------------
    async def accept(self, inbound: Inbound) -> Optional[Accepted]:
        """Dedupes, resolves the contact and stores the message; None for a provider's retry.

        Store failures propagate, so the connector answers 5xx and the provider retries: a
        message is never acknowledged before it is safely stored.
        """
        text = storable(inbound.text or "").strip()
        stored = await db.call(conversations.accept, inbound, text, self.jobs.owner)
        if stored is None:
            return None
        party, message_id, job_id = stored
        self._stored(party.conversation_id, message_id)
        return Accepted(inbound, party, message_id, text, job_id=job_id)

    async def process(self, accepted: Accepted) -> Receipt:
        """Routes a stored message and sends the replies: one turn at a time per conversation,
        across replicas, in the order the conversation's messages were stored."""
        conversation_id = accepted.party.conversation_id
        task = asyncio.current_task()
        self._turns.add(task)
        self.jobs.hold(accepted.job_id)
        try:
            async with self.locks.hold(conversation_id) as lease:
                return await self._run_turn(accepted, lease.token)
        except LeaseLost:
            # Another replica took the conversation over (this one stalled past its lease): what it
            # did not store is redone by the message's job once the lease on it runs out.
            logger.warning("message %s of %s: lost the conversation's lease; left to its job",
                           accepted.message_id, conversation_id)
            return Receipt(conversation_id=conversation_id, message_id=accepted.message_id, retry=True)
        finally:
            self.jobs.let_go(accepted.job_id)
            self._turns.discard(task)

    async def _run_turn(self, accepted: Accepted, token: int) -> Receipt:
        """One message's turn under the conversation's lock, settled in the store afterwards."""
        marker = _current_turn.set((accepted.message_id, token))
        try:
            receipt = await self._process_locked(accepted, token)
        finally:
            _current_turn.reset(marker)
        if not receipt.retry and not receipt.finished:
            await db.call(conversations.mark_processed, accepted.message_id)
        return receipt

    async def receive(self, inbound: Inbound) -> Receipt:
        """accept() then process(): for channels whose caller waits for the answer (web chat)."""
        accepted = await self.accept(inbound)
        if accepted is None:
            return Receipt(duplicate=True)
        return await self.process(accepted)

    def process_later(self, accepted: Accepted) -> asyncio.Task:
        """process() in the background: for providers that must be acknowledged fast."""
        task = asyncio.get_running_loop().create_task(self.process(accepted))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(_log_failure)
        return task

    async def _process_locked(self, accepted: Accepted, token: int) -> Receipt:
        """One turn, in order: a link code, the interceptors, a person's conversation, a message
        without words, and otherwise the dialogue."""
        turn, party, code, detected = await self._begin_turn(accepted, token)
        if turn.earlier:  # stored before this one, on another replica, and not answered yet
            for earlier in turn.earlier:
                await self._earlier_turn(accepted.party, earlier, token)
            turn, party, code, detected = await self._begin_turn(accepted, token)
        receipt = Receipt(conversation_id=party.conversation_id, message_id=accepted.message_id)
        if turn.message_status != "received":  # answered by a turn that ran elsewhere
            receipt.finished = True
            receipt.replies = await db.call(conversations.replies_to, accepted.message_id)
            return receipt
        lang = detected or party.language
        if code:
            return await self._redeem(accepted.inbound, party, code, detected, receipt)
        if await self._intercepted(accepted, party, lang, receipt) or await self._to_desk(accepted, party, lang, receipt):
            return receipt
        payload = _offered_payload(accepted, party, turn)
        if turn.condensed is not None and not payload and choose_option(accepted.text, turn.condensed.buttons) is None:
            # Their answer to a message they only saw condensed (a notice as WhatsApp's template):
            # now that they wrote, it is shown in full, with its options.
            receipt.routed_to = "system"
            shown = replace(turn.condensed, notice=None)
            receipt.replies.append(await self._reply(party.conversation_id, accepted.inbound.channel, shown))
            return receipt
        if not accepted.text and not payload:
            receipt.routed_to = "system"
            key = "media_received" if accepted.inbound.media_urls else "empty"
            await self._say(receipt, party.conversation_id, accepted.inbound.channel, key, lang)
            return receipt
        return await self._dialogue(accepted, party, turn, payload, lang, receipt)

    async def _earlier_turn(self, party: Party, earlier: tuple[int, str, str, Optional[str]], token: int) -> None:
        """The turn of a message stored before the one at hand (whose own turn will find it answered)."""
        message_id, channel, text, payload = earlier
        found = await db.call(conversations.party_of, party.conversation_id, channel)
        if found is None:
            return
        earlier_party, address = found
        inbound = Inbound(channel=channel, address=address, text=text, payload=payload)
        await self._run_turn(Accepted(inbound, earlier_party, message_id, text.strip(), resumed=True), token)

    async def _begin_turn(self, accepted: Accepted, token: int) -> tuple[conversations.Turn, Party, Optional[str], Optional[str]]:
        """(turn, party, link code, detected language). The status may have changed while this
        message waited for the lock; one read gives it, the options we offered last, and records
        the language this message is in."""
        text = accepted.text
        code = linking.find_code(text)
        detected = language.detect(linking.without_code(text) if code else text)
        party = accepted.party
        turn = await db.call(conversations.begin_turn, party.conversation_id, accepted.message_id, detected,
                             bool(accepted.inbound.payload), token, self.jobs.owner,
                             accepted.resumed or accepted.attempt > 0)
        if turn.status is not None:
            party = Party(party.contact_id, party.conversation_id, turn.status, turn.language or party.language,
                          party.identity_id)
        return turn, party, code, detected

    async def _intercepted(self, accepted: Accepted, party: Party, lang: Optional[str], receipt: Receipt) -> bool:
        """Whether an interceptor (e.g. the satisfaction survey) answered the message itself."""
        for interceptor in self._interceptors:
            handled = await interceptor(accepted, party, lang)
            if handled is not None:
                receipt.routed_to = "system"
                for outbound in handled:
                    receipt.replies.append(await self._reply(party.conversation_id, accepted.inbound.channel, outbound, "system"))
                return True
        return False

    async def _to_desk(self, accepted: Accepted, party: Party, lang: Optional[str], receipt: Receipt) -> bool:
        """Whether the message went to the agents (a person has the conversation). A closed
        conversation is reopened on a fresh dialogue session, and the bot answers."""
        if party.status == "closed":
            await db.call(conversations.reopen, party.conversation_id)
            await self._new_session(party.conversation_id, accepted.inbound.channel)
            return False
        if party.status not in ("waiting_agent", "agent"):
            return False
        receipt.routed_to = "desk"
        if self.desk is not None:
            await self.desk.customer_wrote(party.conversation_id, accepted.message_id, accepted.text)
        else:  # no desk configured: the customer is not left talking to silence
            await self._say(receipt, party.conversation_id, accepted.inbound.channel, "queued_for_agent", lang)
        return True

    async def _dialogue(self, accepted: Accepted, party: Party, turn: conversations.Turn, payload: Optional[str],
                        lang: Optional[str], receipt: Receipt) -> Receipt:
        """Rasa's turn: its replies are sent; no reply at all leaves the message to be processed again."""
        inbound, message_id, text = accepted.inbound, accepted.message_id, accepted.text
        # Only our own buttons may speak Rasa's "/intent{...}" syntax; typed text never does.
        typed = text.lstrip("/") if text.startswith("/") else text
        user_text = payload or choose_option(text, turn.buttons) or typed
        try:
            replies = await self._ask_rasa(inbound, party, user_text[:MAX_TEXT], message_id, lang)
        except Exception:  # noqa: BLE001 - the customer hears from us whatever broke
            logger.exception("rasa failed on message %s of %s", message_id, party.conversation_id)
            replies = []
        if not replies:
            # Every turn of ours answers something; silence means an action or Rasa failed.
            logger.warning("no reply to message %s of %s; will process it again", message_id, party.conversation_id)
            receipt.retry = True
            # The customer is told once; later attempts stay quiet until they succeed.
            replies = [] if accepted.attempt else [Outbound(say("received_later", lang))]
        for outbound in replies:
            receipt.replies.append(await self._reply(party.conversation_id, inbound.channel, outbound))
        # An action may have asked for a person (action_request_human runs in the action server).
        status = await db.call(conversations.finish_turn, party.conversation_id, message_id,
                               processed=not receipt.retry, retry_in=self.recover_after)
        receipt.finished = True
        if status == "waiting_agent" and self.desk is not None:
            await self.desk.escalated(party.conversation_id)
        return receipt

    async def _say(self, receipt: Receipt, conversation_id: str, channel: str, key: str, lang: Optional[str]) -> None:
        """One of the core's own sentences (bot/texts.py), stored and sent as a system reply."""
        receipt.replies.append(await self._reply(conversation_id, channel, Outbound(say(key, lang)), "system"))

    async def _ask_rasa(
        self, inbound: Inbound, party: Party, text: str, message_id: int, lang: Optional[str]
    ) -> list[Outbound]:
        return await self._rasa_turn(party.conversation_id, inbound.channel, text, str(message_id))

    async def _rasa_turn(self, conversation_id: str, channel: str, text: str,
                         message_id: Optional[str] = None) -> list[Outbound]:
        if self.rasa is None:
            raise RuntimeError("the hub has no Rasa handler attached")
        collector = _Collector()
        await self.rasa(
            UserMessage(
                text,
                collector,
                sender_id=conversation_id,
                input_channel=channel,
                message_id=message_id,
                metadata={"channel": channel},
            )
        )
        return Outbound.all_from_rasa(collector.messages)

    async def _new_session(self, conversation_id: str, channel: str) -> None:
        """A resolved conversation starts a fresh dialogue session when the customer writes again:
        no form left half-way before the agent took over (slots marked to carry over, such as the
        language, are kept)."""
        if self.rasa is None:
            return
        try:
            await self.rasa(
                UserMessage("/session_start", CollectingOutputChannel(), sender_id=conversation_id,
                            input_channel=channel, metadata={"channel": channel})
            )
        except Exception:  # noqa: BLE001 - a failed restart must not keep the customer's message from Rasa
            logger.exception("could not start a new session for %s", conversation_id)

    async def _redeem(self, inbound: Inbound, party: Party, code: str, detected: Optional[str],
                      receipt: Receipt) -> Receipt:
        result = await db.call(linking.redeem, code, inbound.channel, inbound.address)
        # A bare code says nothing of its sender's language; once linked, they are someone we know.
        lang = detected or result.language or party.language
        key = {
            "linked": "linked",
            "already_linked": "already_linked",
            "conflict": "link_conflict",
            "rate_limited": "link_rate_limited",
        }.get(result.outcome, "link_invalid")
        conversation_id = result.conversation_id or party.conversation_id
        receipt.conversation_id = conversation_id
        receipt.routed_to = "system"
        await self._say(receipt, conversation_id, inbound.channel, key, lang)
        return receipt

    # -- recovery -------------------------------------------------------------------------------
    async def recover(self, older_than: Optional[float] = None) -> int:
        """Processes what is due again now: turns that failed (`recover_after` seconds after the
        failure, unless `older_than` says otherwise) and messages whose replica died mid-turn
        (once its claim's lease ran out). Returns how many it took."""
        due_by = None
        if older_than is not None:
            due_by = db.utcnow() + dt.timedelta(seconds=max(0.0, self.recover_after - older_than))
        return await self.jobs.run_due([INBOUND_JOB], due_by)

    async def _recover_job(self, job: jobs.Job) -> None:
        """A message's turn again, or a person for a message that keeps failing."""
        message_id = int(job.ref or 0)
        state = await db.call(conversations.inbound_state, message_id)
        # Answered meanwhile, or its replica died after storing the replies (which the outbox
        # sends) but before marking it: processing it again would send them twice.
        if state is None or state[2] != "received" or await db.call(conversations.answered, message_id):
            await db.call(conversations.mark_processed, message_id)  # settles the job
            return
        conversation_id, channel, _status, text, payload, attempts = state
        found = await db.call(conversations.party_of, conversation_id, channel)
        if found is None or attempts + 1 >= MAX_PROCESS_ATTEMPTS:
            await db.call(conversations.give_up, message_id)
            if await db.call(handoff.request, conversation_id, reason="processing_failed", channel=channel) and self.desk:
                await self.desk.escalated(conversation_id)
            return
        party, address = found
        await db.call(conversations.count_attempt, message_id)
        inbound = Inbound(channel=channel, address=address, text=text or "", payload=payload)
        await self.process(Accepted(inbound, party, message_id, (text or "").strip(), attempt=attempts + 1,
                                    job_id=job.id, resumed=True))

    def start(self) -> None:
        """Starts claiming due work (retries, sends, timers) on the running event loop (idempotent),
        and sets the daily retention run (once per day, whichever replica sets it)."""
        self.jobs.start()
        if not self._retention_set:
            self._retention_set = True
            try:
                retention.schedule_next()
            except Exception:  # noqa: BLE001 - the next start, or the last run, sets it
                logger.exception("could not schedule the retention run")

    async def stop(self, grace: float = 10.0) -> None:
        """A replica stopping: takes no more work, lets running turns finish for up to `grace`
        seconds, and gives back what it still holds (another replica takes it at once)."""
        await self.jobs.stop(grace, running=set(self._turns) | set(self._background))

    # -- outbound -------------------------------------------------------------------------------
    async def _reply(self, conversation_id: str, channel: str, outbound: Outbound, author: str = "bot") -> int:
        reply_to, token = _current_turn.get() or (None, None)
        pending = await db.call(self.outbox.enqueue, conversation_id, channel, outbound, author=author,
                                reply_to=reply_to, token=token)
        self._stored(conversation_id, pending.id)
        await self.outbox.deliver(pending)
        return pending.id

    async def speak_first(self, conversation_id: str, channel: str, intent: str, entities: dict[str, Any],
                          settle: Optional[Settle] = None) -> list[int]:
        """A turn the bot starts: Rasa's external event (what its trigger_intent API does), e.g. an
        order notice. It runs under the conversation's turn lock like a customer's turn, so the
        two never interleave; its replies are stored in one transaction with `settle(session,
        reply ids)`, the caller's record that the turn happened (which may refuse it by raising:
        nothing is stored then), and sent by the outbox on `channel`. Raises when the dialogue
        said nothing, so the caller's job tries again."""
        async with self.locks.hold(conversation_id) as lease:
            current = await db.call(conversations.conversation, conversation_id)
            if current is not None and current.status == "closed":  # as when the customer writes again
                await db.call(conversations.reopen, conversation_id)
                await self._new_session(conversation_id, channel)
            text = "/" + intent + json.dumps(entities, ensure_ascii=False)
            replies = await self._rasa_turn(conversation_id, channel, text)
            if not replies:
                raise RuntimeError(f"the dialogue said nothing to {intent} in {conversation_id}")
            stored = await db.call(self.outbox.enqueue_all, conversation_id, channel, replies, lease.token, settle)
            for pending in stored:
                self._stored(conversation_id, pending.id)
                await self.outbox.deliver(pending)
        return [pending.id for pending in stored]

    async def send(self, conversation_id: str, outbound: Outbound, author: str = "agent") -> int:
        """A proactive message (an agent's reply, a notification) to the contact's current channel."""
        current = await db.call(conversations.conversation, conversation_id)
        if current is None:
            raise LookupError(conversation_id)
        return await self._reply(conversation_id, current.last_channel or "webchat", outbound, author)


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("background processing failed", exc_info=task.exception())


_hub: Optional[Hub] = None


def get_hub() -> Hub:
    """The process's hub; connectors share it."""
    global _hub
    if _hub is None:
        _hub = Hub()
    return _hub
