"""`Backend` on the demo SQL database (SQLite file or PostgreSQL), returning plain dataclasses.

ORM objects never leave this module, so the actions cannot tell it from a real ERP/CRM adapter.
"""
from __future__ import annotations

import datetime as dt
import re
import time
from typing import Callable, Optional, Sequence

from sqlalchemy import Integer, cast, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from actions.backend import base, matching
from actions.backend import tables as t
from bot import sla
from bot.db import session_factory, utcnow
from bot.folding import fold
from bot.store.normalize import normalize_email, phone_variants

TICKET_PREFIX = "TCK-"
ORDER_PREFIX = "PED-"
FIRST_TICKET_NUMBER = 1001
ERASED = "[erased]"  # what an erased person's ticket description reads
_ID_ATTEMPTS = 20

AREA_BY_CATEGORY = {
    "order": "logistics",
    "delivery": "logistics",
    "warranty": "after_sales",
    "product": "after_sales",
    "billing": "billing",
    "other": "customer_service",
}
BASE_PRIORITY = {
    "order": "normal",
    "delivery": "normal",
    "warranty": "normal",
    "product": "normal",
    "billing": "normal",
    "other": "low",
}
_PRIORITY_ORDER = ("low", "normal", "high", "urgent")
# Accent-free, lowercase phrases (matched on word boundaries against the folded description).
URGENT_PHRASES = (
    "urgente", "urgent", "urgently", "emergencia", "emergency", "no funciona nada",
    "nothing works", "fraude", "fraud", "cobro doble", "doble cobro", "cobraron doble",
    "double charge", "double charged", "charged twice", "me robaron", "stolen",
)
HIGH_PHRASES = (
    "no funciona", "not working", "doesn't work", "does not work", "no enciende",
    "won't turn on", "danado", "damaged", "roto", "broken", "no ha llegado", "no llego",
    "hasn't arrived", "has not arrived", "never arrived", "retraso", "retrasado", "late",
    "delayed", "incompleto", "incomplete", "missing", "falta", "faltan", "lo antes posible",
    "asap", "cuanto antes",
)


def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(re.escape(p) for p in phrases) + r")\b")


# Charged twice, however it is put: "me cobraron dos veces", "you charged my card twice".
_DOUBLE_CHARGE = re.compile(
    r"\bcobr\w*\s+(?:\w+\s+){0,4}(?:doble|dos veces)\b|\bcharged\s+(?:\w+\s+){0,4}twice\b"
    r"|\b(?:double|duplicate)d?\s+(?:charge|payment)s?\b"
)
_URGENT = _phrase_pattern(URGENT_PHRASES)
_HIGH = _phrase_pattern(HIGH_PHRASES)


def ticket_priority(category: str, description: str) -> str:
    """Category sets the floor; words in the description raise it (never lower it)."""
    text = fold(description)
    priority = BASE_PRIORITY.get(category, "low")
    if _URGENT.search(text) or _DOUBLE_CHARGE.search(text):
        return "urgent"
    if _HIGH.search(text) and _PRIORITY_ORDER.index(priority) < _PRIORITY_ORDER.index("high"):
        return "high"
    return priority


def canonical_id(raw: str, prefix: str) -> Optional[str]:
    """'ped 10234', 'PED10234' or '10234' -> 'PED-10234'; None if there is no number."""
    text = (raw or "").strip().upper()
    if text.startswith(prefix[:-1]):
        text = text[len(prefix) - 1:]
    text = text.lstrip(" -_#")
    return prefix + text if text.isdigit() else None


def _branch(row: t.Branch) -> base.Branch:
    return base.Branch(
        id=row.id, name=row.name, address=row.address, phone=row.phone, lat=row.lat, lon=row.lon
    )


def _product(row: t.Product) -> base.Product:
    return base.Product(sku=row.sku, name=row.name, category=row.category, price=float(row.price))


def _order(row: t.Order) -> base.Order:
    return base.Order(
        id=row.id,
        customer_id=row.customer_id,
        status=row.status,
        items=tuple(
            base.OrderItem(sku=item.sku, name=item.product.name, quantity=item.quantity)
            for item in row.items
        ),
        carrier=row.carrier,
        tracking_number=row.tracking_number,
        expected_date=row.expected_date,
        branch_id=row.branch_id,
        delay_reason=row.delay_reason,
        delay_code=row.delay_code,
    )


def _customer(row: Optional[t.Customer]) -> Optional[base.Customer]:
    if row is None:
        return None
    return base.Customer(
        id=row.id, name=row.name, email=row.email, phone=row.phone, company=row.company
    )


def _distributor(row: Optional[t.Distributor]) -> Optional[base.Distributor]:
    if row is None:
        return None
    return base.Distributor(
        id=row.id, name=row.name, contact_phone=row.contact_phone, email=row.email, tier=row.tier
    )


def _ticket(row: t.Ticket) -> base.Ticket:
    return base.Ticket(
        id=row.id,
        customer_id=row.customer_id,
        contact_email=row.contact_email,
        category=row.category,
        description=row.description,
        priority=row.priority,
        area=row.area,
        status=row.status,
        created_at=row.created_at,
        due_at=row.due_at,
        order_id=row.order_id,
        conversation_id=row.conversation_id,
    )


def _email_or_none(raw: Optional[str]) -> Optional[str]:
    try:
        return normalize_email(raw) if raw else None
    except ValueError:
        return None


class SqlBackend:
    """The demo wholesaler's systems, read from and written to the project database."""

    def __init__(self, url: Optional[str] = None, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self._url = url
        self._clock = clock  # when a ticket is opened (tests set the hour)

    def _session(self) -> Session:
        return session_factory(self._url)()

    # Branches and catalogue

    def branches(self) -> list[base.Branch]:
        with self._session() as s:
            return [_branch(r) for r in s.scalars(select(t.Branch).order_by(t.Branch.id))]

    def branch(self, branch_id: str) -> Optional[base.Branch]:
        wanted = fold((branch_id or "").strip())
        with self._session() as s:
            row = s.get(t.Branch, wanted)
            if row is None:  # tolerate the branch's name where its id was expected
                row = next(
                    (b for b in s.scalars(select(t.Branch)) if fold(b.name) == wanted), None
                )
            return _branch(row) if row else None

    def find_products(self, query: str, limit: int = 5) -> list[base.Product]:
        if not (query or "").strip() or limit <= 0:
            return []
        with self._session() as s:
            rows = {r.sku: r for r in s.scalars(select(t.Product))}
            skus = matching.rank(
                query, ((r.sku, r.name, r.aliases or []) for r in rows.values()), limit
            )
            return [_product(rows[sku]) for sku in skus]

    def product(self, sku: str) -> Optional[base.Product]:
        with self._session() as s:
            row = self._product_row(s, sku)
            return _product(row) if row else None

    @staticmethod
    def _product_row(s: Session, sku: str) -> Optional[t.Product]:
        row = s.get(t.Product, (sku or "").strip().upper())
        if row is not None:
            return row
        key = matching.sku_key(sku)
        if not key:
            return None
        for candidate in s.scalars(select(t.Product)):
            if matching.sku_key(candidate.sku) == key:
                return candidate
        return None

    def stock(self, sku: str) -> list[base.StockLevel]:
        with self._session() as s:
            product = self._product_row(s, sku)
            if product is None:
                return []
            quantities = dict(
                s.execute(
                    select(t.Stock.branch_id, t.Stock.quantity).where(t.Stock.sku == product.sku)
                ).all()
            )
            branches = s.scalars(select(t.Branch).order_by(t.Branch.id))
            return [base.StockLevel(_branch(b), int(quantities.get(b.id, 0))) for b in branches]

    def substitutes(self, sku: str, limit: int = 3) -> list[base.Product]:
        with self._session() as s:
            product = self._product_row(s, sku)
            if product is None or limit <= 0:
                return []
            rows = s.scalars(select(t.Product).where(t.Product.category == product.category,
                                                     t.Product.sku != product.sku))
            ranked = sorted(rows, key=lambda r: (abs(float(r.price) - float(product.price)), r.sku))
            return [_product(r) for r in ranked[:limit]]

    # Orders and customers

    def order(self, order_id: str) -> Optional[base.Order]:
        order_id = canonical_id(order_id, ORDER_PREFIX) or ""
        with self._session() as s:
            row = s.get(t.Order, order_id)
            return _order(row) if row else None

    def orders_of(self, customer_id: int) -> list[base.Order]:
        with self._session() as s:
            rows = s.scalars(
                select(t.Order)
                .where(t.Order.customer_id == customer_id)
                .order_by(t.Order.created_at.desc(), t.Order.id.desc())
            )
            return [_order(r) for r in rows]

    def orders_overdue(self, today: dt.date) -> list[base.Order]:
        with self._session() as s:
            rows = s.scalars(
                select(t.Order)
                .where(t.Order.expected_date < today, t.Order.status.notin_(("delivered", "cancelled")))
                .order_by(t.Order.expected_date, t.Order.id)
            )
            return [_order(r) for r in rows]

    def customer(self, customer_id: int) -> Optional[base.Customer]:
        with self._session() as s:
            return _customer(s.get(t.Customer, customer_id))

    def customer_by_phone(self, phone: str) -> Optional[base.Customer]:
        variants = phone_variants(phone)
        if not variants:
            return None
        with self._session() as s:
            row = s.scalars(
                select(t.Customer).where(t.Customer.phone.in_(variants)).order_by(t.Customer.id)
            ).first()
            return _customer(row)

    def customer_by_email(self, email: str) -> Optional[base.Customer]:
        email = _email_or_none(email)
        if email is None:
            return None
        with self._session() as s:
            row = s.scalars(
                select(t.Customer).where(func.lower(t.Customer.email) == email)
            ).first()
            return _customer(row)

    def distributor_by_phone(self, phone: str) -> Optional[base.Distributor]:
        variants = phone_variants(phone)
        if not variants:
            return None
        with self._session() as s:
            row = s.scalars(
                select(t.Distributor)
                .where(t.Distributor.contact_phone.in_(variants))
                .order_by(t.Distributor.id)
            ).first()
            return _distributor(row)

    def distributor_by_email(self, email: str) -> Optional[base.Distributor]:
        email = _email_or_none(email)
        if email is None:
            return None
        with self._session() as s:
            row = s.scalars(
                select(t.Distributor).where(func.lower(t.Distributor.email) == email)
            ).first()
            return _distributor(row)

    # Tickets

    def create_ticket(self, new: base.NewTicket) -> base.Ticket:
        """Files a ticket as TCK-<next number>, with priority, area and due time decided here: the
        area's target for the priority in business hours (service.yml), so it falls on working time.

        Raises ValueError for an unknown category, an empty description or an invalid email.
        """
        category = (new.category or "").strip().lower()
        if category not in AREA_BY_CATEGORY:
            raise ValueError(f"unknown ticket category {new.category!r}")
        description = (new.description or "").strip()
        if not description:
            raise ValueError("a ticket needs a description")
        priority = ticket_priority(category, description)
        email = normalize_email(new.contact_email) if new.contact_email else None
        extra = dict(new.extra)
        order_id = canonical_id(new.order_id, ORDER_PREFIX) if new.order_id else None
        if new.order_id and order_id is None:
            extra["order_reference"] = new.order_id  # not an order number; keep what they said
        area = AREA_BY_CATEGORY[category]
        for attempt in range(_ID_ATTEMPTS):
            created = self._clock()
            with self._session() as s:
                row = t.Ticket(
                    id=self._next_ticket_id(s),
                    customer_id=new.customer_id,
                    contact_email=email,
                    category=category,
                    description=description,
                    priority=priority,
                    area=area,
                    status="open",
                    created_at=created,
                    due_at=sla.ticket_due(area, priority, created),
                    order_id=order_id,
                    conversation_id=new.conversation_id,
                    language=new.language if new.language in ("es", "en") else "es",
                    extra=extra or None,
                )
                s.add(row)
                try:
                    s.commit()
                except IntegrityError:
                    # Someone took this number between our read and our insert: take the next.
                    s.rollback()
                    time.sleep(0.005 * (attempt + 1))
                    continue
                return _ticket(row)
        raise RuntimeError(f"could not allocate a ticket id after {_ID_ATTEMPTS} attempts")

    @staticmethod
    def _next_ticket_id(s: Session) -> str:
        number = func.substr(t.Ticket.id, len(TICKET_PREFIX) + 1)
        highest = s.scalar(
            select(func.max(cast(number, Integer))).where(t.Ticket.id.like(TICKET_PREFIX + "%"))
        )
        return f"{TICKET_PREFIX}{max(highest or 0, FIRST_TICKET_NUMBER - 1) + 1:04d}"

    def ticket(self, ticket_id: str) -> Optional[base.Ticket]:
        ticket_id = canonical_id(ticket_id, TICKET_PREFIX) or ""
        with self._session() as s:
            row = s.get(t.Ticket, ticket_id)
            return _ticket(row) if row else None

    def tickets_of(self, customer_id: int) -> list[base.Ticket]:
        with self._session() as s:
            rows = s.scalars(
                select(t.Ticket)
                .where(t.Ticket.customer_id == customer_id)
                .order_by(t.Ticket.created_at.desc(), t.Ticket.id.desc())
            )
            return [_ticket(r) for r in rows]

    # A person's rights over their data (ops.privacy)

    @staticmethod
    def _about(conversation_ids: Sequence[str], email: Optional[str]) -> Select:
        """Tickets opened from these conversations or for this email."""
        clauses = [t.Ticket.conversation_id.in_(list(conversation_ids))]
        if email:
            clauses.append(t.Ticket.contact_email == email)
        return select(t.Ticket).where(or_(*clauses)).order_by(t.Ticket.id)

    def tickets_about(self, conversation_ids: Sequence[str], email: Optional[str]) -> list[base.Ticket]:
        with self._session() as s:
            return [_ticket(r) for r in s.scalars(self._about(conversation_ids, email))]

    def erase_tickets(self, conversation_ids: Sequence[str], email: Optional[str]) -> int:
        with self._session() as s, s.begin():
            rows = list(s.scalars(self._about(conversation_ids, email)))
            for row in rows:
                row.description = ERASED
                row.contact_email = None
                row.extra = None
            return len(rows)
