"""Tables of the demo wholesaler's systems (catalogue, stock, orders, tickets) behind `SqlBackend`.

They have their own metadata, migrated by their own Alembic chain (`schema.py`, `migrations/`),
beside the core's tables in the same database; a real ERP or CRM replaces these tables, not the
actions.
"""
from __future__ import annotations

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import declarative_base, relationship

from bot.db import NAMING_CONVENTION, UTCDateTime, utcnow

# The ERP's own metadata, named as the core's is (the constraint names of revisions 0001/0002).
Base = declarative_base(metadata=MetaData(naming_convention=NAMING_CONVENTION))

ORDER_STATUSES = ("received", "preparing", "shipped", "delivered", "delayed", "cancelled")
TICKET_CATEGORIES = ("order", "product", "warranty", "billing", "delivery", "other")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
TICKET_AREAS = ("logistics", "after_sales", "billing", "sales", "customer_service")
TICKET_STATUSES = ("open", "in_progress", "resolved", "closed")
DISTRIBUTOR_TIERS = ("smb", "top")
# Why an order is late, as logistics files it; the customer hears it in their own language.
DELAY_CODES = ("weather", "stock_transfer", "incomplete_address", "carrier_incident", "customs", "other")


def _one_of(column: str, values: tuple[str, ...], nullable: bool = False) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    condition = f"{column} IN ({listed})"
    return CheckConstraint(f"{column} IS NULL OR {condition}" if nullable else condition, name=column)


class Branch(Base):
    """A physical branch; lat/lon rank the nearest one that has stock."""

    __tablename__ = "branches"

    id = Column(String(16), primary_key=True)  # gdl, mty, pue, mid, cdmx
    name = Column(String(100), nullable=False)
    address = Column(String(300), nullable=False)
    phone = Column(String(32), nullable=False)
    lat = Column(Float, nullable=False)
    lon = Column(Float, nullable=False)


class Product(Base):
    """A catalogue item; `aliases` are what people type instead of the name."""

    __tablename__ = "products"

    sku = Column(String(32), primary_key=True)
    name = Column(String(200), nullable=False)
    category = Column(String(50), nullable=False)
    price = Column(Numeric(12, 2, asdecimal=False), nullable=False)
    aliases = Column(JSON, nullable=False, default=list)


class Stock(Base):
    """Units of one product in one branch."""

    __tablename__ = "stock"
    __table_args__ = (CheckConstraint("quantity >= 0", name="quantity"),)

    sku = Column(String(32), ForeignKey("products.sku", ondelete="CASCADE"), primary_key=True)
    branch_id = Column(String(16), ForeignKey("branches.id", ondelete="CASCADE"), primary_key=True)
    quantity = Column(Integer, nullable=False, default=0)


class Customer(Base):
    """A buyer in the CRM; matched to a contact by verified phone or email."""

    __tablename__ = "customers"

    id = Column(Integer, primary_key=True)
    name = Column(String(200), nullable=False)
    email = Column(String(254), unique=True)  # stored lowercase
    phone = Column(String(16), index=True)  # E.164
    company = Column(String(200))


class Distributor(Base):
    """A reseller account; only these may see stock levels."""

    __tablename__ = "distributors"
    __table_args__ = (_one_of("tier", DISTRIBUTOR_TIERS),)

    id = Column(Integer, primary_key=True)
    name = Column(String(200), nullable=False)
    contact_phone = Column(String(16), nullable=False, index=True)  # E.164
    email = Column(String(254), unique=True)  # stored lowercase
    tier = Column(String(8), nullable=False, default="smb")


class Order(Base):
    """A sales order as logistics tracks it."""

    __tablename__ = "orders"
    __table_args__ = (_one_of("status", ORDER_STATUSES), _one_of("delay_code", DELAY_CODES, nullable=True))

    id = Column(String(16), primary_key=True)  # PED-10234
    customer_id = Column(Integer, ForeignKey("customers.id"), nullable=False, index=True)
    status = Column(String(16), nullable=False)
    carrier = Column(String(50))
    tracking_number = Column(String(64))
    expected_date = Column(Date)
    branch_id = Column(String(16), ForeignKey("branches.id"))
    delay_code = Column(String(24))
    delay_reason = Column(Text)  # logistics' own note, in their words (Spanish here)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)

    items = relationship("OrderItem", order_by="OrderItem.id", lazy="selectin")


class OrderItem(Base):
    """One line of an order; the name comes from the product."""

    __tablename__ = "order_items"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity"),)

    id = Column(Integer, primary_key=True)
    order_id = Column(String(16), ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True)
    sku = Column(String(32), ForeignKey("products.sku"), nullable=False)
    quantity = Column(Integer, nullable=False)
    unit_price = Column(Numeric(12, 2, asdecimal=False))

    product = relationship("Product", lazy="joined")


class Ticket(Base):
    """A case for a responsible area with a due time (SLA) decided when it is opened."""

    __tablename__ = "tickets"
    __table_args__ = (
        _one_of("category", TICKET_CATEGORIES),
        _one_of("priority", TICKET_PRIORITIES),
        _one_of("area", TICKET_AREAS),
        _one_of("status", TICKET_STATUSES),
    )

    id = Column(String(16), primary_key=True)  # TCK-2041
    customer_id = Column(Integer, ForeignKey("customers.id"), index=True)
    contact_email = Column(String(254), index=True)  # stored lowercase
    category = Column(String(16), nullable=False)
    description = Column(Text, nullable=False)
    priority = Column(String(8), nullable=False)
    area = Column(String(32), nullable=False)
    status = Column(String(16), nullable=False, default="open")
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    due_at = Column(UTCDateTime, nullable=False)
    order_id = Column(String(16), index=True)  # as the customer gave it; may predate our records
    conversation_id = Column(String(64), index=True)  # the conversation store's id, if any
    language = Column(String(2), nullable=False, default="es")
    extra = Column(JSON)  # anything else the dialogue collected (NewTicket.extra)

