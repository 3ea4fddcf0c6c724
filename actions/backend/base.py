"""The small interface between the dialogue's actions and the wholesaler's systems.

Actions only talk to a `Backend`; the demo ships a SQL implementation, and a real ERP/CRM
can replace it by implementing the same methods.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Optional, Protocol, Sequence


@dataclass(frozen=True)
class Branch:
    id: str  # short id: gdl, mty, pue, mid, cdmx
    name: str
    address: str
    phone: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    category: str
    price: float


@dataclass(frozen=True)
class StockLevel:
    branch: Branch
    quantity: int


@dataclass(frozen=True)
class OrderItem:
    sku: str
    name: str
    quantity: int


@dataclass(frozen=True)
class Order:
    id: str  # canonical, e.g. PED-10234
    customer_id: int
    status: str  # received | preparing | shipped | delivered | delayed | cancelled
    items: Sequence[OrderItem]
    carrier: Optional[str]
    tracking_number: Optional[str]
    expected_date: Optional[dt.date]
    branch_id: Optional[str]
    delay_reason: Optional[str] = None  # free text from logistics, in their language
    delay_code: Optional[str] = None  # weather | stock_transfer | incomplete_address | carrier_incident | customs | other


@dataclass(frozen=True)
class Customer:
    id: int
    name: str
    email: Optional[str]
    phone: Optional[str]  # E.164, e.g. +5215512345678
    company: Optional[str] = None


@dataclass(frozen=True)
class Distributor:
    id: int
    name: str
    contact_phone: str  # E.164
    email: Optional[str]
    tier: str  # smb | top


@dataclass(frozen=True)
class Ticket:
    id: str  # canonical, e.g. TCK-2041
    customer_id: Optional[int]
    contact_email: Optional[str]
    category: str  # order | product | warranty | billing | delivery | other
    description: str
    priority: str  # low | normal | high | urgent
    area: str  # logistics | after_sales | billing | sales | customer_service
    status: str  # open | in_progress | resolved | closed
    created_at: dt.datetime
    due_at: dt.datetime
    order_id: Optional[str] = None
    conversation_id: Optional[str] = None


@dataclass(frozen=True)
class NewTicket:
    category: str
    description: str
    customer_id: Optional[int] = None
    contact_email: Optional[str] = None
    order_id: Optional[str] = None
    conversation_id: Optional[str] = None
    language: str = "es"
    extra: dict = field(default_factory=dict)


class Backend(Protocol):
    """What the assistant needs from the wholesaler's systems."""

    def branches(self) -> list[Branch]: ...

    def branch(self, branch_id: str) -> Optional[Branch]: ...

    def find_products(self, query: str, limit: int = 5) -> list[Product]:
        """Products by SKU or fuzzy name match, best first."""
        ...

    def product(self, sku: str) -> Optional[Product]: ...

    def stock(self, sku: str) -> list[StockLevel]:
        """Stock of one product in every branch (0 where none)."""
        ...

    def substitutes(self, sku: str, limit: int = 3) -> list[Product]:
        """Other products that can stand in for this one (same category), the closest price first."""
        ...

    def order(self, order_id: str) -> Optional[Order]: ...

    def orders_of(self, customer_id: int) -> list[Order]: ...

    def orders_overdue(self, today: dt.date) -> list[Order]:
        """Orders not delivered (nor cancelled) whose expected date is before `today`."""
        ...

    def customer(self, customer_id: int) -> Optional[Customer]: ...

    def customer_by_phone(self, phone: str) -> Optional[Customer]: ...

    def customer_by_email(self, email: str) -> Optional[Customer]: ...

    def distributor_by_phone(self, phone: str) -> Optional[Distributor]: ...

    def distributor_by_email(self, email: str) -> Optional[Distributor]: ...

    def create_ticket(self, new: NewTicket) -> Ticket:
        """Creates a ticket with priority, responsible area and SLA due time decided here."""
        ...

    def ticket(self, ticket_id: str) -> Optional[Ticket]: ...

    def tickets_of(self, customer_id: int) -> list[Ticket]: ...

    def tickets_about(self, conversation_ids: Sequence[str], email: Optional[str]) -> list[Ticket]:
        """Tickets opened from these conversations or for this email: a person's right to see them."""
        ...

    def erase_tickets(self, conversation_ids: Sequence[str], email: Optional[str]) -> int:
        """Strips personal data from those tickets, which stay as business records; returns how many."""
        ...
