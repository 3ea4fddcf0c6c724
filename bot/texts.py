"""Every customer-facing sentence the code says, in Spanish and English.

The dialogue's own sentences are Rasa's responses in domain.yml; these are the few said without
Rasa: by the core (a link code redeemed, a message without text, a technical problem, a person
busy) and by the agents' desk (after hours, the satisfaction survey, back to the assistant).
Labels that fill the dialogue's sentences (statuses, dates) are in actions/labels.py.
"""
from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    "linked": (
        "✅ Listo: unimos este canal a tu conversación. Puedes seguir aquí donde te quedaste.",
        "✅ Done: this channel is now linked to your conversation. You can carry on here where you left off.",
    ),
    "already_linked": (
        "Este canal ya estaba unido a tu conversación.",
        "This channel was already linked to your conversation.",
    ),
    "link_invalid": (
        "Ese código no es válido o ya expiró. Pide uno nuevo en el otro canal escribiendo «unir cuenta».",
        "That code is invalid or has expired. Ask for a new one on the other channel by typing \"link account\".",
    ),
    "link_conflict": (
        "No puedo unir estos canales: están registrados con teléfonos o correos distintos. "
        "Si crees que es un error, escribe «asesor».",
        "I can't link these channels: they are registered with different phones or emails. "
        "If you think this is a mistake, type \"agent\".",
    ),
    "link_rate_limited": (
        "Demasiados intentos con códigos. Espera un rato e inténtalo de nuevo.",
        "Too many code attempts. Please wait a while and try again.",
    ),
    "received_later": (
        "Recibimos tu mensaje 🙏. Tenemos un problema técnico momentáneo; te respondemos en cuanto se resuelva.",
        "We got your message 🙏. We're having a brief technical problem; we'll reply as soon as it's fixed.",
    ),
    "empty": (
        "No recibí texto en tu mensaje. ¿En qué te puedo ayudar?",
        "Your message had no text. How can I help?",
    ),
    "queued_for_agent": (
        "Tu mensaje quedó guardado. Un asesor te responderá aquí en cuanto esté disponible.",
        "Your message is saved. An agent will reply here as soon as one is available.",
    ),
    "media_received": (
        "Recibí tu archivo, gracias. Lo guardé en tu conversación; cuéntame qué necesitas con él.",
        "I got your file, thanks. It's saved in your conversation; tell me what you need with it.",
    ),
    # -- said with a proactive order notice (actions/notices.py), the first one a person gets ------
    "notice_stop_hint": (
        # One line break: Rasa's output channels cut a text at blank lines into separate messages.
        "\nSi prefieres no recibir estos avisos, escribe «ya no quiero avisos».",
        "\nIf you'd rather not get these notices, type \"stop notifications\".",
    ),
    # -- said by the agents' desk ---------------------------------------------------------------
    "after_hours": (
        "🌙 Nuestros asesores atienden {hours}. Abrí el ticket {ticket} con tu solicitud; un asesor te contactará a partir del {when}.",
        "🌙 Our agents work {hours}. I opened ticket {ticket} with your request; an agent will get back to you from {when}.",
    ),
    "after_hours_no_ticket": (
        "🌙 Nuestros asesores atienden {hours}. Dejamos registrada tu solicitud; un asesor te contactará a partir del {when}.",
        "🌙 Our agents work {hours}. Your request is recorded; an agent will get back to you from {when}.",
    ),
    "csat_question": (
        "✅ Tu conversación con el asesor terminó. ¿Cómo calificarías la atención? Responde con un número del "
        "1 (mala) al 5 (excelente).",
        "✅ Your conversation with the agent has ended. How would you rate the service? Reply with a number from "
        "1 (poor) to 5 (excellent).",
    ),
    "csat_thanks": (
        "¡Gracias por tu calificación! ⭐ Si necesitas algo más, aquí estoy.",
        "Thank you for your rating! ⭐ If you need anything else, I'm here.",
    ),
    "returned": (
        "🤖 Te regreso con el asistente virtual. ¿En qué más te puedo ayudar?",
        "🤖 You're back with the virtual assistant. What else can I help you with?",
    ),
}


def text(key: str, language: str | None, **values: object) -> str:
    """The sentence `key` in English when the conversation is in English, else in Spanish."""
    spanish, english = TEXTS[key]
    chosen = english if language == "en" else spanish
    return chosen.format(**values) if values else chosen
