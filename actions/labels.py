"""Words the actions put into responses, in both languages.

The sentences live in domain.yml; these are the values (statuses, dates) that fill them.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional
from zoneinfo import ZoneInfo

from bot import language, service

_ORDER_STATUS = {
    "received": ("recibido, en validación", "received, being validated"),
    "preparing": ("en preparación en almacén", "being prepared at the warehouse"),
    "shipped": ("enviado, va en camino", "shipped, on its way"),
    "delivered": ("entregado", "delivered"),
    "delayed": ("con retraso", "delayed"),
    "cancelled": ("cancelado", "cancelled"),
}
_TICKET_STATUS = {
    "open": ("abierto, en espera de atención", "open, waiting to be handled"),
    "in_progress": ("en atención", "being worked on"),
    "resolved": ("resuelto", "resolved"),
    "closed": ("cerrado", "closed"),
}
_PRIORITY = {
    "low": ("baja", "low"),
    "normal": ("normal", "normal"),
    "high": ("alta", "high"),
    "urgent": ("urgente", "urgent"),
}
_AREA = {
    "logistics": ("logística", "logistics"),
    "after_sales": ("posventa y garantías", "after-sales and warranty"),
    "billing": ("facturación y cobranza", "billing"),
    "sales": ("ventas", "sales"),
    "customer_service": ("atención a clientes", "customer service"),
}
_CATEGORY = {
    "order": ("pedido", "order"),
    "delivery": ("entrega", "delivery"),
    "product": ("producto", "product"),
    "warranty": ("garantía", "warranty"),
    "billing": ("facturación", "billing"),
    "other": ("otro", "other"),
}
_DELAY = {
    "weather": ("mal clima en la ruta de la paquetería", "bad weather on the carrier's route"),
    "stock_transfer": (
        "falta de stock en el centro de distribución; se surte desde otra sucursal",
        "it was out of stock at the distribution centre and is coming from another branch",
    ),
    "incomplete_address": (
        "dirección de entrega incompleta: la paquetería no pudo entregar",
        "the delivery address is incomplete, so the carrier could not deliver",
    ),
    "carrier_incident": ("una incidencia en la paquetería", "an incident at the carrier"),
    "customs": ("revisión en aduana", "a customs inspection"),
}
DELAY_CODES = tuple(_DELAY)  # what logistics files as a late order's reason
_DELAY_UNKNOWN = ("un imprevisto con el envío", "an unexpected problem with the shipment")
# What changed, in a few words (a notice's {{2}} in WhatsApp's template); "{}" takes the detail.
_NOTICE_CHANGE = {
    "delayed": ("con retraso: {}", "delayed: {}"),
    "shipped": ("enviado con {}", "shipped with {}"),
    "delivered": ("entregado", "delivered"),
    "ready_for_pickup": ("listo para recoger en {}", "ready for pickup at {}"),
}
# The options after a delay notice, in the order a "2" counts them.
NOTICE_OPTIONS = ("wait", "alternative", "ship_ready", "person")
_NOTICE_OPTION = {
    "wait": ("Esperar la nueva fecha", "Wait for the new date"),
    "alternative": ("Buscar una alternativa", "Look for an alternative"),
    "ship_ready": ("Enviar lo que ya está listo", "Ship what is ready now"),
    "person": ("Hablar con un asesor", "Talk to a person"),
}
_INSTEAD = ("en su lugar", "instead")
_NO_STOCK = ("sin existencias por ahora", "out of stock for now")
_MONTHS_ES = "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre".split()
_DAYS_ES = "lunes martes miércoles jueves viernes sábado domingo".split()


def _pick(table: dict, key: Optional[str], lang: str) -> str:
    pair = table.get(key or "", (key or "-", key or "-"))
    return pair[1] if lang == "en" else pair[0]


def order_status(status: str, lang: str) -> str:
    return _pick(_ORDER_STATUS, status, lang)


def ticket_status(status: str, lang: str) -> str:
    return _pick(_TICKET_STATUS, status, lang)


def priority(value: str, lang: str) -> str:
    return _pick(_PRIORITY, value, lang)


def area(value: str, lang: str) -> str:
    return _pick(_AREA, value, lang)


def category(value: str, lang: str) -> str:
    return _pick(_CATEGORY, value, lang)


def delay_reason(code: Optional[str], note: Optional[str], lang: str) -> str:
    """Why an order is late, in the customer's language.

    Logistics' own note is the most specific, so it is quoted when it is in the customer's
    language; otherwise the code is said in their language, and a plain "an unexpected problem"
    stands in when there is neither.
    """
    written_in = language.detect(note) if note else None
    if note and written_in == lang:
        return note
    if code in _DELAY:
        return _pick(_DELAY, code, lang)
    if note and written_in is None:
        return note
    return _DELAY_UNKNOWN[1] if lang == "en" else _DELAY_UNKNOWN[0]


def _zone() -> ZoneInfo:
    """The service's time zone (service.yml): a due time reads in the zone its hours were counted in."""
    return service.calendar().zone


def date(value: Optional[dt.date], lang: str) -> str:
    """'jueves 27 de noviembre' / 'Thursday, November 27'."""
    if value is None:
        return "por confirmar" if lang != "en" else "to be confirmed"
    if isinstance(value, dt.datetime):
        value = value.astimezone(_zone()).date()
    if lang == "en":
        return value.strftime("%A, %B ") + str(value.day)
    return f"{_DAYS_ES[value.weekday()]} {value.day} de {_MONTHS_ES[value.month - 1]}"


def datetime(value: dt.datetime, lang: str) -> str:
    """A due time in the service's time zone: 'jueves 27 de noviembre, 14:30 h'."""
    local = value.astimezone(_zone())
    return f"{date(local.date(), lang)}, {local:%H:%M} h"


def units(quantity: int, lang: str) -> str:
    if lang == "en":
        return f"{quantity} unit" + ("" if quantity == 1 else "s")
    return f"{quantity} pieza" + ("" if quantity == 1 else "s")


def notice_change(kind: str, detail: Optional[str], lang: str) -> str:
    """What an order event changed, in a few words: 'con retraso: lluvias', 'shipped with DHL'."""
    return _pick(_NOTICE_CHANGE, kind, lang).format(detail or "-")


def notice_option(choice: str, lang: str) -> str:
    return _pick(_NOTICE_OPTION, choice, lang)


def instead(lang: str) -> str:
    return _pick({"x": _INSTEAD}, "x", lang)


def no_stock(lang: str) -> str:
    return _pick({"x": _NO_STOCK}, "x", lang)
