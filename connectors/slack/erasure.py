"""Erasing a person reaches the agents' channel: what we posted about them there is deleted.

The desk records every message at the desk about a conversation (bot/store/desk.py,
`desk_posts`): the hand-off summary, the customer's words relayed to the thread, the desk's
notices there, and the agents' own replies. Erasing the person deletes each with `chat.delete`;
where Slack refuses the deletion, the message is overwritten by a neutral "[datos eliminados]"
with `chat.update`. What fails for a passing reason (rate limits, Slack unreachable, a token
being rotated) becomes a durable `desk_erase` job (bot/jobs.py), tried again with backoff by the
replica whose desk is running. What Slack never lets the bot do is reported and left: an agent's
own reply can be deleted only by a workspace admin (or its author).
"""
from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Iterable, Optional

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import audit, db, jobs
from bot.store import desk as store

logger = logging.getLogger(__name__)

REDACTED = "[datos eliminados]"
ERASE_JOB = store.ERASE_JOB
ACTOR = "system:desk"
# Slack's answers that no retry changes: the bot may not touch the message (an agent's own),
# or the channel is archived or out of the bot's reach.
REFUSALS = frozenset({
    "cant_delete_message", "cant_update_message", "edit_window_closed", "is_archived", "channel_not_found",
    "not_in_channel", "restricted_action", "message_limit_exceeded",
})
GONE = "message_not_found"


class Outcome(str, enum.Enum):
    DELETED = "deleted"  # deleted, or already gone
    REPLACED = "replaced"  # deletion refused; the text now reads REDACTED
    REFUSED = "refused"  # neither: only a workspace admin can remove it
    RETRY = "retrying"  # a passing failure: a desk_erase job tries again


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    error: Optional[str] = None  # Slack's error code (or the exception's type) of the last failure


def _error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or "slack_error")
    return type(exc).__name__


async def erase_message(client: AsyncWebClient, channel: str, ts: str) -> Result:
    """Deletes one message at the desk, or overwrites it; says which, or why neither."""
    try:
        await client.chat_delete(channel=channel, ts=ts)
        return Result(Outcome.DELETED)
    except Exception as exc:  # noqa: BLE001 - every failure is an answer here
        refused = _error(exc)
    if refused == GONE:
        return Result(Outcome.DELETED)
    try:
        await client.chat_update(channel=channel, ts=ts, text=REDACTED, blocks=[], attachments=[])
        return Result(Outcome.REPLACED, refused)
    except Exception as exc:  # noqa: BLE001
        failed = _error(exc)
    if failed == GONE:
        return Result(Outcome.DELETED)
    if refused in REFUSALS and failed in REFUSALS:
        return Result(Outcome.REFUSED, failed)
    return Result(Outcome.RETRY, failed)


def _settle(post: store.Post, result: Result) -> None:
    """A message nothing more can be done about leaves the list (a refused one stays: it is still there)."""
    if result.outcome in (Outcome.DELETED, Outcome.REPLACED):
        store.forget_post(post.channel, post.ts)


async def erase_posts(client: Optional[AsyncWebClient], default_channel: Optional[str], posts: Iterable[store.Post],
                      contact_id: Optional[int]) -> dict[str, int]:
    """Erases the desk's messages about a person now; what fails for a passing reason (all of
    them, when there is no Slack client here) is left to `desk_erase` jobs. Counts per outcome."""
    counts = {outcome.value: 0 for outcome in Outcome}
    later: list[store.Post] = []
    for post in posts:
        channel = post.channel or default_channel
        if client is None or not channel:
            result = Result(Outcome.RETRY, "desk_off")
        else:
            result = await erase_message(client, channel, post.ts)
        counts[result.outcome.value] += 1
        if result.outcome is Outcome.RETRY:
            later.append(post)
        elif result.outcome is Outcome.REFUSED:
            logger.warning("Slack refused to delete or blank a %s message about contact %s (%s)", post.kind,
                           contact_id, result.error)
        else:
            await db.call(_settle, post, result)
    if later:
        await db.call(store.erase_later, later, contact_id)
    return counts


def job_handler(client: AsyncWebClient, default_channel: str) -> jobs.Handler:
    """The `desk_erase` job: one message again; raising leaves it to the scheduler's backoff."""

    async def erase(job: jobs.Job) -> None:
        payload = job.payload or {}
        channel, ts = payload.get("channel") or default_channel, str(payload.get("ts") or "")
        post = store.Post("", payload.get("channel") or "", ts, str(payload.get("kind") or "?"), job.created_at)
        result = await erase_message(client, channel, ts)
        if result.outcome is Outcome.RETRY:
            raise RuntimeError(f"Slack did not erase the message yet ({result.error})")
        await db.call(_settle, post, result)
        await db.call(audit.record, ACTOR, "desk.erase", payload.get("contact_id"),
                      {"outcome": result.outcome.value, "kind": post.kind, "attempts": job.attempts + 1})
        await db.call(jobs.complete, job.id)

    return erase
