"""The demo ERP's tables in a chain of their own: created where absent, adopted where present.

Until this chain existed, the core's revisions 0001 (tables) and 0002 (orders.delay_code) created
them, so every existing database has them, filled: those are adopted as they are. A database
without them (one that only the ERP uses) gets them here, in the same shape, constraint names
included. Downgrade drops whichever of them still exist.

Revision ID: b0001
Revises:
Create Date: 2026-12-07
"""
from __future__ import annotations

from typing import Callable

import sqlalchemy as sa
from alembic import op

revision = "b0001"
down_revision = None
branch_labels = None
depends_on = None

DELAY_CODES = ("weather", "stock_transfer", "incomplete_address", "carrier_incident", "customs", "other")
# Parents before children.
TABLES = ("branches", "products", "stock", "customers", "distributors", "orders", "order_items", "tickets")


def _one_of(column: str, values: tuple[str, ...], name: str, nullable: bool = False) -> sa.CheckConstraint:
    condition = f"{column} IN ({', '.join(repr(v) for v in values)})"
    return sa.CheckConstraint(f"{column} IS NULL OR {condition}" if nullable else condition, name=name)


def _exists(table: str) -> bool:
    return sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    for table in TABLES:
        if not _exists(table):
            CREATE[table]()


def downgrade() -> None:
    for table in reversed(TABLES):
        if _exists(table):
            op.drop_table(table)


def _branches() -> None:
    op.create_table(
        "branches",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_branches"),
    )


def _products() -> None:
    op.create_table(
        "products",
        sa.Column("sku", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=50), nullable=False),
        sa.Column("price", sa.Numeric(precision=12, scale=2, asdecimal=False), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("sku", name="pk_products"),
    )


def _stock() -> None:
    op.create_table(
        "stock",
        sa.Column("sku", sa.String(length=32), nullable=False),
        sa.Column("branch_id", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity >= 0", name="ck_stock_quantity"),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name="fk_stock_branch_id_branches", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["sku"], ["products.sku"], name="fk_stock_sku_products", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("sku", "branch_id", name="pk_stock"),
    )


def _customers() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("company", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        sa.UniqueConstraint("email", name="uq_customers_email"),
    )
    op.create_index("ix_customers_phone", "customers", ["phone"])


def _distributors() -> None:
    op.create_table(
        "distributors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("contact_phone", sa.String(length=16), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("tier", sa.String(length=8), nullable=False),
        _one_of("tier", ("smb", "top"), "ck_distributors_tier"),
        sa.PrimaryKeyConstraint("id", name="pk_distributors"),
        sa.UniqueConstraint("email", name="uq_distributors_email"),
    )
    op.create_index("ix_distributors_contact_phone", "distributors", ["contact_phone"])


def _orders() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("carrier", sa.String(length=50), nullable=True),
        sa.Column("tracking_number", sa.String(length=64), nullable=True),
        sa.Column("expected_date", sa.Date(), nullable=True),
        sa.Column("branch_id", sa.String(length=16), nullable=True),
        sa.Column("delay_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("delay_code", sa.String(length=24), nullable=True),
        _one_of(
            "status", ("received", "preparing", "shipped", "delivered", "delayed", "cancelled"), "ck_orders_status"
        ),
        _one_of("delay_code", DELAY_CODES, "ck_orders_delay_code", nullable=True),
        sa.ForeignKeyConstraint(["branch_id"], ["branches.id"], name="fk_orders_branch_id_branches"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_orders_customer_id_customers"),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
    )
    op.create_index("ix_orders_customer_id", "orders", ["customer_id"])


def _order_items() -> None:
    op.create_table(
        "order_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(length=16), nullable=False),
        sa.Column("sku", sa.String(length=32), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=12, scale=2, asdecimal=False), nullable=True),
        sa.CheckConstraint("quantity > 0", name="ck_order_items_quantity"),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name="fk_order_items_order_id_orders", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["sku"], ["products.sku"], name="fk_order_items_sku_products"),
        sa.PrimaryKeyConstraint("id", name="pk_order_items"),
    )
    op.create_index("ix_order_items_order_id", "order_items", ["order_id"])


def _tickets() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("contact_email", sa.String(length=254), nullable=True),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("area", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("order_id", sa.String(length=16), nullable=True),
        sa.Column("conversation_id", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=True),
        _one_of("category", ("order", "product", "warranty", "billing", "delivery", "other"), "ck_tickets_category"),
        _one_of("priority", ("low", "normal", "high", "urgent"), "ck_tickets_priority"),
        _one_of("area", ("logistics", "after_sales", "billing", "sales", "customer_service"), "ck_tickets_area"),
        _one_of("status", ("open", "in_progress", "resolved", "closed"), "ck_tickets_status"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name="fk_tickets_customer_id_customers"),
        sa.PrimaryKeyConstraint("id", name="pk_tickets"),
    )
    for column in ("contact_email", "conversation_id", "customer_id", "order_id"):
        op.create_index(f"ix_tickets_{column}", "tickets", [column])


CREATE: dict[str, Callable[[], None]] = {
    "branches": _branches, "products": _products, "stock": _stock, "customers": _customers,
    "distributors": _distributors, "orders": _orders, "order_items": _order_items, "tickets": _tickets,
}
