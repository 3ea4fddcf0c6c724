"""What the desk asks of the business behind the bot: a customer's open orders and tickets for
the hand-off summary, an after-hours ticket, whether a timed ticket is still open (SLA alerts),
dates as customers read them.

The one module of the desk that reads `actions/` (the business layer the bot's actions use): the
core knows no business, so the desk, which sits above both, asks the business directly, here
and nowhere else in connectors/.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Optional

from actions import identity, labels
from actions.backend import get_backend
from actions.backend.base import Backend, NewTicket
from actions.tickets import start_sla
from bot.store.desk import Snapshot

logger = logging.getLogger(__name__)

OPEN_ORDER_STATUSES = ("received", "preparing", "shipped", "delayed")
OPEN_TICKET_STATUSES = ("open", "in_progress")
AFTER_HOURS_DESCRIPTION = "Solicitud de asesor fuera de horario"


@dataclass
class OpenWork:
    """A customer's open orders and tickets, as summary lines (Spanish: the agents' language)."""

    distributor: Optional[str] = None
    orders: list[str] = field(default_factory=list)
    tickets: list[str] = field(default_factory=list)


def _who(current: Snapshot) -> identity.VerifiedContact:
    return identity.VerifiedContact(current.contact_id, current.phone, current.email, current.is_distributor)


def open_work(current: Snapshot, backend: Optional[Backend] = None) -> OpenWork:
    """Open orders and tickets of a verified contact; raises when the backend fails."""
    work = OpenWork(distributor="Sí / Yes" if current.is_distributor else None)
    who = _who(current)
    if not who.verified:
        return work
    backend = backend or get_backend()
    found = identity.distributor_of(who, backend)
    if found is not None:
        work.distributor = f"Sí / Yes — {found.name} ({found.tier})"
    for customer in identity.customers_of(who, backend):
        work.orders += [
            f"{o.id} — {labels.order_status(o.status, 'es')}"
            + (f", entrega {labels.date(o.expected_date, 'es')}" if o.expected_date else "")
            for o in backend.orders_of(customer.id)
            if o.status in OPEN_ORDER_STATUSES
        ]
        work.tickets += [
            f"{t.id} — {labels.ticket_status(t.status, 'es')} ({labels.category(t.category, 'es')}): "
            + (t.description if len(t.description) <= 80 else t.description[:79] + "…")
            for t in backend.tickets_of(customer.id)
            if t.status in OPEN_TICKET_STATUSES
        ]
    return work


def after_hours_ticket(current: Snapshot, last_text: str, backend: Optional[Backend] = None) -> Optional[str]:
    """Opens the ticket of a hand-off outside business hours; its id, or None when that failed."""
    description = AFTER_HOURS_DESCRIPTION + (f": {last_text}" if last_text else "")
    who = _who(current)
    try:
        backend = backend or get_backend()
        customers = identity.customers_of(who, backend) if who.verified else []
        ticket = backend.create_ticket(
            NewTicket(
                category="other",
                description=description[:2000],
                customer_id=customers[0].id if customers else None,
                contact_email=current.email,
                conversation_id=current.id,
                language=current.language,
            )
        )
    except Exception:  # noqa: BLE001 - the customer is still told when we open
        logger.exception("could not open the after-hours ticket of %s", current.id)
        return None
    start_sla(ticket)
    return ticket.id


def ticket_open(ticket_id: str, backend: Optional[Backend] = None) -> bool:
    """Whether the backend still has the ticket open (not resolved, closed or gone)."""
    ticket = (backend or get_backend()).ticket(ticket_id)
    return ticket is not None and ticket.status in OPEN_TICKET_STATUSES


def ticket_words(area: Optional[str], priority: Optional[str], language: str) -> tuple[str, str]:
    """A ticket's area and priority as people read them."""
    return labels.area(area or "-", language), labels.priority(priority or "-", language)


def when(moment: dt.datetime, language: str) -> str:
    """A date and time as a customer reads it ("lunes 1 de diciembre, 09:00 h")."""
    return labels.datetime(moment, language)
