"""Words the actions put into responses, in both languages.

The sentences live in domain.yml; these are the values (statuses, dates) that fill them.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("America/Mexico_City")

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


def date(value: Optional[dt.date], lang: str) -> str:
    """'jueves 27 de noviembre' / 'Thursday, November 27'."""
    if value is None:
        return "por confirmar" if lang != "en" else "to be confirmed"
    if isinstance(value, dt.datetime):
        value = value.astimezone(LOCAL_TZ).date()
    if lang == "en":
        return value.strftime("%A, %B ") + str(value.day)
    return f"{_DAYS_ES[value.weekday()]} {value.day} de {_MONTHS_ES[value.month - 1]}"


def datetime(value: dt.datetime, lang: str) -> str:
    """A due time in Mexico City time: 'jueves 27 de noviembre, 14:30 h'."""
    local = value.astimezone(LOCAL_TZ)
    return f"{date(local.date(), lang)}, {local:%H:%M} h"


def units(quantity: int, lang: str) -> str:
    if lang == "en":
        return f"{quantity} unit" + ("" if quantity == 1 else "s")
    return f"{quantity} pieza" + ("" if quantity == 1 else "s")
