"""What the Slack desk shows: the hand-off summary (Block Kit), thread lines and the sentences
agents and customers read.

Everything a customer typed is escaped (&, <, >) before it reaches Slack, and shown in
`verbatim` text, so "<!channel>" or "<@U123>" from a customer is text, never a mention.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional

CLAIM, RETURN, RESOLVE = "unisono_claim", "unisono_return", "unisono_resolve"
MAX_SECTION = 2900  # Slack refuses section text over 3000 characters
MAX_LINE = 280

_AUTHORS = {"customer": "Cliente", "bot": "Bot", "agent": "Asesor", "system": "Sistema"}


def escape(text: str) -> str:
    """Slack's three control characters as entities: what was typed is shown, never parsed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def mask_phone(phone: str) -> str:
    """Only the last four digits: enough to tell numbers apart, not enough to dial."""
    digits = re.sub(r"\D", "", phone)
    return "••••" + digits[-4:] if len(digits) >= 4 else "••••"


def show_address(channel: str, address: str) -> str:
    """An identity as agents may see it: phones masked, anonymous web sessions not shown."""
    bare = address[len("whatsapp:"):] if address.lower().startswith("whatsapp:") else address
    if re.fullmatch(r"\+?[\d\s\-()]{7,20}", bare):
        return mask_phone(bare)
    if address.startswith("user:"):
        return "usuario del sitio " + escape(_cut(address[5:], 40))
    if channel == "webchat":
        return "sesión anónima"
    return escape(_cut(address, 40))


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _cut(text, MAX_SECTION), "verbatim": True}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def _button(text: str, action_id: str, value: str, style: Optional[str] = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


@dataclass(frozen=True)
class Summary:
    """A hand-off as the agents first see it; customer-typed values are raw here, escaped on render."""

    conversation_id: str
    name: Optional[str]
    channel: Optional[str]
    language: str
    identities: tuple[str, ...] = ()  # already rendered by show_address
    phone: Optional[str] = None
    email: Optional[str] = None
    distributor: Optional[str] = None
    orders: tuple[str, ...] = ()
    tickets: tuple[str, ...] = ()
    messages: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = field(default=())  # desk remarks, e.g. the after-hours ticket


def title(summary: Summary) -> str:
    name = escape(summary.name or "Cliente sin nombre")
    return f"🙋 {name} pide un asesor · wants an agent ({summary.channel or '?'})"


def summary_blocks(summary: Summary, state: str, agent: Optional[str] = None) -> list[dict[str, Any]]:
    """The root message of a hand-off thread; `state` is waiting, agent, closed or bot."""
    facts = [
        f"*Cliente / Customer:* {escape(summary.name or '—')}",
        f"*Canal / Channel:* {summary.channel or '—'}",
        f"*Idioma / Language:* {summary.language}",
        f"*Distribuidor / Distributor:* {escape(summary.distributor) if summary.distributor else 'No'}",
    ]
    verified = [mask_phone(summary.phone)] if summary.phone else []
    if summary.email:
        verified.append(escape(summary.email))
    verified_line = (
        f"\n*Verificado / Verified:* {', '.join(verified)}" if verified else "\n_Sin datos verificados / Not verified_"
    )
    lines = [
        "\n".join(facts),
        "*Identidades / Identities:*\n" + ("\n".join(f"• {i}" for i in summary.identities) or "—") + verified_line,
        "*Pedidos abiertos / Open orders:*\n" + ("\n".join(f"• {escape(o)}" for o in summary.orders) or "—"),
        "*Tickets abiertos / Open tickets:*\n" + ("\n".join(f"• {escape(t)}" for t in summary.tickets) or "—"),
    ]
    history = "\n".join(
        f"*{_AUTHORS.get(author, author)}:* {escape(_cut(_one_line(text), MAX_LINE)) or '_(sin texto)_'}"
        for author, text in summary.messages
    )
    blocks: list[dict[str, Any]] = [_section(title(summary))]
    blocks += [_section(line) for line in lines]
    blocks.append(_section("*Últimos mensajes / Last messages:*\n" + (history or "—")))
    for note in summary.notes:
        blocks.append(_section(note))
    footer = status_line(state, agent) + f" · `{summary.conversation_id}`"
    blocks.append({"type": "context", "elements": [_mrkdwn(footer)]})
    buttons = buttons_for(state, summary.conversation_id)
    if buttons:
        blocks.append({"type": "actions", "block_id": "unisono_actions", "elements": buttons})
    return blocks


def status_line(state: str, agent: Optional[str]) -> str:
    who = f"<@{agent}>" if agent else "—"
    return {
        "waiting_agent": "⏳ Esperando asesor / Waiting for an agent",
        "agent": f"✋ Atendida por / Handled by {who}",
        "closed": f"✅ Resuelta por / Resolved by {who}",
        "bot": f"↩️ Devuelta al bot por / Returned to the bot by {who}",
    }.get(state, state)


def buttons_for(state: str, conversation_id: str) -> list[dict[str, Any]]:
    if state == "waiting_agent":
        return [
            _button("✋ Tomar / Claim", CLAIM, conversation_id, "primary"),
            _button("↩️ Devolver al bot / Return to bot", RETURN, conversation_id),
        ]
    if state == "agent":
        return [
            _button("✅ Resolver / Resolve", RESOLVE, conversation_id, "primary"),
            _button("↩️ Devolver al bot / Return to bot", RETURN, conversation_id),
        ]
    return []


def customer_line(name: Optional[str], channel: Optional[str], text: str) -> str:
    """A customer's message as a thread reply (escaped)."""
    body = escape(text) if text.strip() else "_(mensaje sin texto / message without text)_"
    return f"💬 *{escape(name or 'Cliente')}* ({channel or '?'}): {body}"


# -- what agents read in threads and ephemerals ---------------------------------------------------
AGENT_TEXTS: dict[str, str] = {
    "claimed": "✋ <@{agent}> tomó la conversación / took the conversation.",
    "already_claimed": "Ya la tomó <@{agent}> · already claimed by <@{agent}>.",
    "already_yours": "Ya es tuya · you already have it.",
    "not_waiting": "Esta conversación ya no espera asesor ({status}) · this conversation is no longer waiting ({status}).",
    "resolved": "✅ <@{agent}> resolvió la conversación; se envió la encuesta / resolved it; the survey was sent.",
    "returned": "↩️ <@{agent}> devolvió la conversación al bot / returned the conversation to the bot.",
    "not_with_people": "Esta conversación ya no está con asesores ({status}); el cliente no verá esto · "
    "this conversation is no longer with agents ({status}); the customer won't see this.",
    "no_conversation": "Este hilo no pertenece a ninguna conversación de cliente; lo que escribas aquí no le llega a nadie · "
    "this thread belongs to no customer conversation; nothing you write here reaches anyone.",
    "note_saved": "📝 Nota interna guardada / internal note saved.",
    "resolve_hint": "Usa `/resolve <id de conversación>` (el id está al pie del resumen), o escribe `resolve` en el hilo · "
    "use `/resolve <conversation id>` (the id is at the foot of the summary), or reply `resolve` in the thread.",
    "unknown_conversation": "No encuentro la conversación `{conversation_id}` · no conversation `{conversation_id}`.",
    "wrong_channel": "Esto solo funciona en el canal de asesores · this only works in the agents' channel.",
    "reminder": "⏰ <!here> Nadie ha tomado esta conversación en {minutes} min · nobody has claimed this conversation in {minutes} min.",
    "after_hours": "🌙 Fuera de horario: se abrió el ticket *{ticket}*; el cliente sabe que le contactamos a partir de {when} · "
    "after hours: ticket *{ticket}* opened; the customer expects us from {when}.",
    "after_hours_no_ticket": "🌙 Fuera de horario (no se pudo abrir ticket) · after hours (no ticket could be opened).",
    "csat": "⭐ El cliente calificó la atención de <@{agent}> con {score}/5 · the customer rated {score}/5.",
    "resume_failed": "No pude reactivar el bot para esta conversación; inténtalo de nuevo · could not resume the bot; try again.",
    "relay_failed": "⚠️ Hubo un error al entregar tu respuesta; si el cliente no la recibe, envíala de nuevo · "
    "delivering your reply failed; if the customer doesn't get it, send it again.",
}


def agent_text(key: str, **values: Any) -> str:
    return AGENT_TEXTS[key].format(**values)
