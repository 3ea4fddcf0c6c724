"""The channel-neutral shapes of messages: what connectors parse into and render from.

Nothing here knows a provider. A connector turns a webhook into an `Inbound`, and an `Outbound`
into whatever its channel can show (buttons, inline keyboard, numbered list, blocks).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any, Optional


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class NoticeFields:
    """A proactive notice in three fields (order, what changed, the new date): what a channel that
    may only send a pre-approved template there (WhatsApp outside its 24-hour window) fills it with."""

    order_id: str
    change: str
    date: str

    def to_json(self) -> dict[str, str]:
        return {"order_id": self.order_id, "change": self.change, "date": self.date}

    @classmethod
    def from_json(cls, data: Any) -> Optional["NoticeFields"]:
        if not isinstance(data, dict) or not data.get("order_id"):
            return None
        return cls(str(data["order_id"]), str(data.get("change") or "-"), str(data.get("date") or "-"))


@dataclass(frozen=True)
class Outbound:
    """One reply: text, optionally with buttons (quick replies), an image or a list of items.

    `response` is the Rasa response that said it (utter_...), when Rasa did: stored with the
    reply for the service's figures, never shown (it is not part of the JSON clients get).
    """
    """One reply: text, optionally with buttons (quick replies), an image or a list of items; a
    proactive notice also carries its fields (`notice`)."""

    text: str = ""
    buttons: tuple[Button, ...] = ()
    image: Optional[str] = None
    items: tuple[str, ...] = ()
    response: Optional[str] = None
    notice: Optional[NoticeFields] = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text}
        if self.buttons:
            data["buttons"] = [{"title": b.title, "payload": b.payload} for b in self.buttons]
        if self.image:
            data["image"] = self.image
        if self.items:
            data["items"] = list(self.items)
        if self.notice:
            data["notice"] = self.notice.to_json()
        return data

    @classmethod
    def from_json(cls, data: Optional[dict[str, Any]], text: str = "") -> "Outbound":
        data = data or {}
        return cls(
            text=data.get("text", text) or "",
            buttons=tuple(Button(str(b.get("title", "")), str(b.get("payload", ""))) for b in data.get("buttons") or ()),
            image=data.get("image"),
            items=tuple(str(i) for i in data.get("items") or ()),
            notice=NoticeFields.from_json(data.get("notice")),
        )

    @classmethod
    def from_rasa(cls, message: dict[str, Any]) -> "Outbound":
        """From what Rasa's CollectingOutputChannel collects for one bot utterance."""
        custom = message.get("custom") or {}
        return cls(
            text=message.get("text") or "",
            buttons=tuple(
                Button(str(b.get("title", "")), str(b.get("payload", "")))
                for b in (message.get("buttons") or ())
            ),
            image=message.get("image"),
            items=tuple(str(i) for i in custom.get("items") or ()),
            response=message.get("response"),
            notice=NoticeFields.from_json(custom.get("notice")),
        )

    @classmethod
    def all_from_rasa(cls, messages: list[dict[str, Any]]) -> list["Outbound"]:
        """One Outbound per bot utterance. Rasa's output channels hand an utterance's `custom`
        part over on its own, after its text: it is joined back to the utterance it came with."""
        outbounds: list[Outbound] = []
        for message in messages:
            alone = not any(message.get(key) for key in ("text", "buttons", "image"))
            if alone and message.get("custom") and outbounds:
                extra = cls.from_rasa(message)
                last = outbounds[-1]
                outbounds[-1] = replace(last, items=last.items + extra.items, notice=extra.notice or last.notice)
                continue
            outbounds.append(cls.from_rasa(message))
        return outbounds


@dataclass(frozen=True)
class Inbound:
    """One message from a person, as a connector understood it.

    `address` is the person's address on the channel (phone, chat id, web session). A
    `verified_phone` is set only when the provider itself vouches for it (Twilio's From, a
    Telegram shared contact); `verified_email` only from a signed web identity.
    """

    channel: str
    address: str
    text: str
    provider_message_id: Optional[str] = None
    display_name: Optional[str] = None
    payload: Optional[str] = None  # a button's payload when the person clicked one
    verified_phone: Optional[str] = None
    verified_email: Optional[str] = None
    verified_by: Optional[str] = None
    media_urls: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    received_at: Optional[dt.datetime] = None
