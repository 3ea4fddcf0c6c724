"""The demo seed: idempotent, complete, and shaped the way the demo conversations expect."""
from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import func, select

from actions.backend import demo as seed
from actions.backend import tables as t
from bot import db, service, sla
from bot.demo_data import BRANCHES, PRODUCTS
from ops.migrate import upgrade

TODAY = dt.date(2025, 6, 2)
CARRIERS = {"Estafeta", "DHL", "Paquetexpress"}


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'seed.db'}"
    upgrade(url)
    yield url
    db.dispose(url)


@pytest.fixture
def seeded(url: str) -> str:
    assert seed.seed(url, today=TODAY) is True
    return url


def _count(url: str, table: type) -> int:
    with db.session_scope(url) as s:
        return s.scalar(select(func.count()).select_from(table))


def test_seed_runs_once(url: str) -> None:
    assert seed.seed(url) is True
    counts = {table: _count(url, table) for table in (t.Branch, t.Product, t.Stock, t.Order, t.Ticket)}
    assert seed.seed(url) is False
    assert {table: _count(url, table) for table in counts} == counts


def test_seed_leaves_a_database_with_branches_alone(url: str) -> None:
    with db.session_scope(url) as s:
        s.add(t.Branch(id="leo", name="León", address="x", phone="x", lat=21.1, lon=-101.7))
    assert seed.seed(url) is False
    assert _count(url, t.Product) == 0


def test_catalogue_and_stock_for_every_product_in_every_branch(seeded: str) -> None:
    assert _count(seeded, t.Branch) == len(BRANCHES) == 5
    assert _count(seeded, t.Product) == len(PRODUCTS)
    with db.session_scope(seeded) as s:
        stock = {(r.sku, r.branch_id): r.quantity for r in s.scalars(select(t.Stock))}
        aliases = s.get(t.Product, "CF258A").aliases
    assert set(stock) == {(p[0], b) for p in PRODUCTS for b in BRANCHES}
    assert "toner 58a" in aliases
    by_product = {sku: [stock[(sku, b)] for b in BRANCHES] for sku, *_ in PRODUCTS}
    assert any(0 in levels and max(levels) > 0 for levels in by_product.values())  # partly out
    assert sum(1 for levels in by_product.values() if max(levels) == 0) >= 2  # out everywhere
    assert len(set(stock.values())) > 10  # varied, not one constant


def test_cf258a_stock_makes_monterrey_the_nearest_offer_for_puebla(seeded: str) -> None:
    with db.session_scope(seeded) as s:
        levels = {r.branch_id: r.quantity for r in s.scalars(select(t.Stock).where(t.Stock.sku == "CF258A"))}
    assert levels == {"mty": 42, "gdl": 0, "pue": 0, "mid": 0, "cdmx": 0}

    def km(a: str, b: str) -> float:
        (la1, lo1), (la2, lo2) = ((math.radians(BRANCHES[x]["lat"]), math.radians(BRANCHES[x]["lon"]))
                                  for x in (a, b))
        h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
        return 2 * 6371 * math.asin(math.sqrt(h))

    in_stock = [b for b, q in levels.items() if q > 0]
    assert min(in_stock, key=lambda b: km("pue", b)) == "mty"


def test_customers_and_distributors(seeded: str) -> None:
    with db.session_scope(seeded) as s:
        customers = s.scalars(select(t.Customer)).all()
        ana = s.get(t.Customer, 1)
        distributors = {d.name: d for d in s.scalars(select(t.Distributor))}
    assert len(customers) == 10
    assert (ana.name, ana.phone, ana.email) == ("Ana López", "+5215512345678", "ana.lopez@example.com")
    assert all(c.email == c.email.lower() for c in customers)
    assert len(distributors) == 3
    assert distributors["Compunet del Norte"].contact_phone == "+528155550101"
    assert {"Sistemas Peninsulares", "Redes del Bajío"} <= set(distributors)


def test_orders_cover_every_status_with_items_and_tracking(seeded: str) -> None:
    with db.session_scope(seeded) as s:
        orders = s.scalars(select(t.Order).order_by(t.Order.id)).all()
        assert [o.id for o in orders] == [f"PED-{n}" for n in range(10234, 10256)]
        assert set(Counter(o.status for o in orders)) == set(t.ORDER_STATUSES)
        for order in orders:
            assert order.items, order.id
            if order.status in ("shipped", "delivered", "delayed"):
                assert order.carrier in CARRIERS and order.tracking_number, order.id
            if order.status == "delivered":
                assert order.expected_date <= TODAY, order.id
            if order.status in ("received", "preparing", "shipped", "delayed"):
                assert order.expected_date > TODAY, order.id
        assert {o.carrier for o in orders} - {None} == CARRIERS


def test_anas_orders_and_ticket(seeded: str) -> None:
    with db.session_scope(seeded) as s:
        shipped, delayed = s.get(t.Order, "PED-10234"), s.get(t.Order, "PED-10235")
        ticket = s.get(t.Ticket, "TCK-2041")
        ticket_ids = s.scalars(select(t.Ticket.id).order_by(t.Ticket.id)).all()
    assert (shipped.customer_id, shipped.status, shipped.carrier) == (1, "shipped", "Estafeta")
    assert shipped.tracking_number and shipped.expected_date == TODAY + dt.timedelta(days=2)
    assert (delayed.customer_id, delayed.status) == (1, "delayed")
    assert delayed.delay_reason == "retraso de la paquetería por lluvias"
    assert ticket.customer_id == 1 and ticket.due_at > ticket.created_at
    assert ticket_ids[0] == "TCK-2041" and len(ticket_ids) >= 3



def test_demo_tickets_are_due_in_business_hours(seeded: str) -> None:
    calendar = service.calendar()
    with db.session_scope(seeded) as s:
        tickets = s.scalars(select(t.Ticket)).all()
    for ticket in tickets:
        hours = sla.targets().ticket_hours(ticket.area, ticket.priority)
        assert calendar.business_seconds(ticket.created_at, ticket.due_at) == pytest.approx(hours * 3600), ticket.id
        assert calendar.is_open(ticket.due_at - dt.timedelta(seconds=1)), ticket.id
