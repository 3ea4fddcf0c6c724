"""Which language a person writes in: Spanish or English, from their own words.

A small lexical scorer is enough for two languages this far apart and costs microseconds; it
returns None when a message carries no evidence (an order number, "ok", an emoji), so the
conversation keeps the language it had.
"""
from __future__ import annotations

import re

from bot.folding import fold

SUPPORTED = ("es", "en")
DEFAULT = "es"

_SPANISH = set(
    """
    hola buenas buenos dias tardes noches que qué q k como cómo donde dónde cuando cuándo cual cuál
    cuales quien porque por para favor porfa porfavor gracias muchas si sí no el la los las un una
    unos unas de del al y o en con sin mi mis tu tus su sus es son esta está estan están estoy
    tengo tienen tiene tienes hay quiero quisiera necesito puedo puede pueden podrian podrían
    pedido pedidos orden compra factura facturar envio envío envios envíos sucursal sucursales
    existencias precio hora horario horarios abren cierran llega llegó llego llegado ya aun aún
    todavia todavía mandar mandame mándame manda enviar ayuda ayudame ayúdame asesor humano persona
    queja reporte garantia garantía devolucion devolución pago pagos pagar credito crédito
    oye ando buscando saber ver checar revisar estado dime me te se lo le nos
    vale claro sale ok okey adios adiós hasta luego bye chao nada nel simon simón pues bueno
    mucho poco mas más menos aqui aquí alla allá ahi ahí tambien también equipo roto rota
    quisiera cuánto cuanto cuanta cuántas cuantas piezas pzas tóner toner tinta impresora
    eres eres robot bot jefe compa amigo disculpa perdon perdón cancelar cancela olvidalo olvídalo
    """.split()
)
_ENGLISH = set(
    """
    hi hello hey good morning afternoon evening what how where when which who why the a an of
    and or in on at with without my your his her their is are was were am be been i you we they it
    this that these those have has had do does did want would like need can could please pls thanks
    thank you order orders invoice shipping ship shipped delivery deliver branch branches stock price
    hours open close arrive arrived yet still send help agent human person complaint ticket
    warranty return refund payment pay credit yes yeah yep nope no not bye goodbye see later ok okay
    check status know tell me show get got any there from to for about just really broken damaged
    much many how units pieces printer toner ink are you robot sorry cancel forget never mind
    """.split()
)
# Words that both languages use as-is (loanwords, product words) carry no evidence.
_SHARED = {"no", "ok", "okey", "bot", "robot", "toner", "status", "stock", "a", "me", "chat", "email"}
_SPANISH -= _SHARED
_ENGLISH -= _SHARED
_WORD = re.compile(r"[a-záéíóúüñ]+", re.IGNORECASE)


def detect(text: str | None) -> str | None:
    """'es', 'en', or None when the text gives no clear evidence."""
    if not text or text.startswith("/"):
        return None
    lowered = text.lower()
    spanish = 2.0 if re.search(r"[ñ¿¡]", lowered) else 0.0
    spanish += 0.5 * len(re.findall(r"[áéíóú]", lowered))
    english = 0.0
    for word in _WORD.findall(lowered):
        folded = fold(word)
        if word in _SPANISH or folded in _SPANISH:
            spanish += 1
        if word in _ENGLISH:
            english += 1
    if spanish == english:
        return None
    if spanish > english:
        return "es" if spanish >= 1 else None
    return "en" if english >= 1 else None
