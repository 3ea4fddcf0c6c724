"""Demo data for "Mayoreo TI": branches, catalogue, stock, customers, distributors, orders, tickets.

The demo ERP owns its data as it owns its tables (`tables.py`, `migrations/`): the operations
room calls `seed()` (`python -m ops setup`, `python -m ops.seed`) but knows nothing of what it writes.
`seed()` only writes into a database without branches, so running it at every start is safe.
Dates are relative to the day it runs, so "expected in 2 days" stays true in a fresh demo.
"""
from __future__ import annotations

import datetime as dt
import zlib
from typing import Optional

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from actions.backend import tables as t
from actions.backend.sql import AREA_BY_CATEGORY, ticket_priority
from bot import sla
from bot.db import session_scope, utcnow
from bot.demo_data import BRANCHES, PRODUCTS

# Stock that the demo scripts rely on; everything else is generated deterministically.
FIXED_STOCK: dict[str, dict[str, int]] = {
    # Asked in Puebla, the demo offers Monterrey: every branch nearer to Puebla (CDMX 107 km,
    # Guadalajara 567 km) has none, Monterrey (770 km) has 42.
    "CF258A": {"mty": 42, "gdl": 0, "pue": 0, "mid": 0, "cdmx": 0},
    "CF258X": {"mty": 5, "gdl": 0, "pue": 2, "mid": 0, "cdmx": 11},
}
OUT_OF_STOCK = ("VGA-RTX3060", "AS-A515", "MS-OFF-HB")

# id, name, email, phone (E.164), company
CUSTOMERS = [
    (1, "Ana López", "ana.lopez@example.com", "+5215512345678", "Papelería y Cómputo López"),
    (2, "Carlos Hernández", "carlos.hernandez@example.com", "+523312345678", "Soluciones TI Hernández"),
    (3, "María Fernanda Ruiz", "mf.ruiz@example.com", "+5218112345678", "Consultoría Ruiz"),
    (4, "Jorge Martínez", "jorge.martinez@example.com", "+522221234567", "Cibercafé El Portal"),
    (5, "Lucía Pérez", "lucia.perez@example.com", "+5219991234567", None),
    (6, "Roberto Sánchez", "roberto.sanchez@example.com", "+525587654321", "Despacho Sánchez y Asociados"),
    (7, "Patricia Gómez", "patricia.gomez@example.com", "+524421234567", "Colegio Benito Juárez"),
    (8, "Daniel Torres", "daniel.torres@example.com", "+5213398765432", "Torres Integraciones"),
    (9, "Sofia Ramirez", "sofia.ramirez@example.com", "+14155550123", "Ramirez Imports LLC"),
    (10, "Miguel Ángel Castillo", "miguel.castillo@example.com", "+5218187654321", "Castillo Redes"),
]

# id, name, contact phone (E.164), email, tier
DISTRIBUTORS = [
    (1, "Compunet del Norte", "+528155550101", "ventas@compunetdelnorte.example.com", "top"),
    (2, "Sistemas Peninsulares", "+529995550202", "compras@sistemaspeninsulares.example.com", "smb"),
    (3, "Redes del Bajío", "+524775550303", "pedidos@redesdelbajio.example.com", "smb"),
]

RAIN_DELAY = "retraso de la paquetería por lluvias"

# id, customer, status, carrier, tracking, expected (days from today), branch,
# delay (code, logistics' note), created (days ago), items (sku, quantity)
ORDERS = [
    ("PED-10234", 1, "shipped", "Estafeta", "8055241234567890123456", 2, "cdmx", None, 3,
     [("CF258A", 2), ("LOG-M170", 5)]),
    ("PED-10235", 1, "delayed", "Paquetexpress", "PQX0093817265", 4, "cdmx", ("weather", RAIN_DELAY), 6,
     [("HP-250G9", 1), ("KIN-SSD480", 2)]),
    ("PED-10236", 2, "received", None, None, 5, "gdl", None, 0, [("TL-SG108", 3)]),
    ("PED-10237", 3, "preparing", None, None, 3, "mty", None, 1, [("LEN-V15", 2), ("LOG-MK270", 2)]),
    ("PED-10238", 4, "delivered", "DHL", "4829105736", -2, "pue", None, 7,
     [("TP-ARCHERC6", 4), ("CAT6-305", 1)]),
    ("PED-10239", 5, "cancelled", None, None, None, "mid", None, 10, [("APC-BX1000", 1)]),
    ("PED-10240", 6, "shipped", "DHL", "4829106614", 1, "cdmx", None, 2,
     [("M404DN", 1), ("CE285A", 3)]),
    ("PED-10241", 7, "delivered", "Estafeta", "8055241234567890987654", -5, "cdmx", None, 12,
     [("OPT-7010", 5), ("MON-24LG", 5)]),
    ("PED-10242", 8, "delayed", "Estafeta", "8055241234567891112223", 3, "gdl",
     ("stock_transfer", "falta de stock en el centro de distribución; se surte desde Monterrey"), 8,
     [("UAP-AC-LITE", 6)]),
    ("PED-10243", 9, "shipped", "DHL", "4829107702", 2, "cdmx", None, 2, [("WEB-C920", 4)]),
    ("PED-10244", 10, "preparing", None, None, 2, "mty", None, 1, [("TL-SG108", 10), ("CAT6-305", 2)]),
    ("PED-10245", 1, "delivered", "Estafeta", "8055241234567890555111", -20, "cdmx", None, 25,
     [("T544120", 12)]),
    ("PED-10246", 2, "shipped", "Paquetexpress", "PQX0093820011", 1, "gdl", None, 2,
     [("DELL-V3520", 2)]),
    ("PED-10247", 3, "delivered", "DHL", "4829101188", -3, "mty", None, 9, [("HEAD-H390", 8)]),
    ("PED-10248", 4, "received", None, None, 4, "pue", None, 0, [("USB-SAN64", 20), ("CDP-R-AVR", 4)]),
    ("PED-10249", 5, "delayed", "DHL", "4829109934", 2, "mid",
     ("incomplete_address", "dirección de entrega incompleta: la paquetería no pudo entregar"), 7,
     [("L3250", 1)]),
    ("PED-10250", 6, "cancelled", None, None, None, "cdmx", None, 15, [("MON-27SAM", 2)]),
    ("PED-10251", 7, "preparing", None, None, 3, "cdmx", None, 1, [("ESET-3U", 10)]),
    ("PED-10252", 8, "delivered", "Paquetexpress", "PQX0093799950", -1, "gdl", None, 5,
     [("KIN-8GB-DDR4", 10), ("WD-1TB-BLUE", 4)]),
    ("PED-10253", 9, "received", None, None, 6, "cdmx", None, 0, [("HL1212W", 2), ("TN660", 4)]),
    ("PED-10254", 10, "shipped", "Estafeta", "8055241234567892223334", 3, "mty", None, 2,
     [("LOG-MK270", 15)]),
    ("PED-10255", 2, "delivered", "DHL", "4829100421", -8, "gdl", None, 14, [("CF258X", 3)]),
]

# id, customer, contact email, category, description, status, created (hours ago), order, language
TICKETS = [
    ("TCK-2041", 1, "ana.lopez@example.com", "delivery",
     "Mi pedido PED-10235 viene con retraso y lo necesito para el lunes.", "in_progress", 20,
     "PED-10235", "es"),
    ("TCK-2042", 2, "carlos.hernandez@example.com", "warranty",
     "El switch TL-SG108 dejó de encender a los dos meses de uso.", "open", 30, None, "es"),
    ("TCK-2043", 6, "roberto.sanchez@example.com", "billing",
     "La factura del pedido PED-10240 salió con el RFC equivocado.", "resolved", 140,
     "PED-10240", "es"),
    ("TCK-2044", 9, "sofia.ramirez@example.com", "product",
     "Does the Lenovo V15 come with Windows 11 Pro?", "closed", 220, None, "en"),
    ("TCK-2045", 8, "daniel.torres@example.com", "order",
     "Necesito cambiar la dirección de entrega del pedido PED-10242.", "open", 4, "PED-10242", "es"),
]


def stock_quantity(sku: str, branch_id: str) -> int:
    """Deterministic, varied stock (about one branch in five at zero) unless fixed above."""
    if sku in FIXED_STOCK:
        return FIXED_STOCK[sku][branch_id]
    if sku in OUT_OF_STOCK:
        return 0
    value = zlib.crc32(f"{sku}@{branch_id}".encode()) % 60
    return 0 if value < 12 else value - 11


def _insert_all(s: Session, today: dt.date, now: dt.datetime) -> None:
    for branch_id, b in BRANCHES.items():
        s.add(t.Branch(id=branch_id, name=b["name"], address=b["address"], phone=b["phone"],
                       lat=b["lat"], lon=b["lon"]))
    prices = {}
    for sku, name, category, price, aliases in PRODUCTS:
        prices[sku] = price
        s.add(t.Product(sku=sku, name=name, category=category, price=price, aliases=list(aliases)))
    s.flush()
    for sku, *_ in PRODUCTS:
        for branch_id in BRANCHES:
            s.add(t.Stock(sku=sku, branch_id=branch_id, quantity=stock_quantity(sku, branch_id)))
    for cid, name, email, phone, company in CUSTOMERS:
        s.add(t.Customer(id=cid, name=name, email=email, phone=phone, company=company))
    for did, name, phone, email, tier in DISTRIBUTORS:
        s.add(t.Distributor(id=did, name=name, contact_phone=phone, email=email, tier=tier))
    s.flush()
    for (oid, customer_id, status, carrier, tracking, expected, branch_id, delay, days_ago,
         items) in ORDERS:
        delay_code, delay_note = delay or (None, None)
        s.add(t.Order(
            id=oid, customer_id=customer_id, status=status, carrier=carrier,
            tracking_number=tracking,
            expected_date=None if expected is None else today + dt.timedelta(days=expected),
            branch_id=branch_id, delay_code=delay_code, delay_reason=delay_note,
            created_at=now - dt.timedelta(days=days_ago, hours=2),
            items=[t.OrderItem(sku=sku, quantity=qty, unit_price=prices[sku]) for sku, qty in items],
        ))
    for (tid, customer_id, email, category, description, status, hours_ago, order_id,
         language) in TICKETS:
        priority, area = ticket_priority(category, description), AREA_BY_CATEGORY[category]
        created = now - dt.timedelta(hours=hours_ago)
        s.add(t.Ticket(
            id=tid, customer_id=customer_id, contact_email=email, category=category,
            description=description, priority=priority, area=area,
            status=status, created_at=created, due_at=sla.ticket_due(area, priority, created),
            order_id=order_id, language=language,
        ))


def _advance_sequences(s: Session) -> None:
    """PostgreSQL does not move a serial past explicitly inserted ids; later inserts would collide."""
    if s.get_bind().dialect.name != "postgresql":
        return
    for table in ("customers", "distributors"):
        s.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
        ))


def seed(url: Optional[str] = None, today: Optional[dt.date] = None) -> bool:
    """Loads the demo data into an already migrated database that has no branches yet.

    Returns True if it seeded, False if data was already there (or another process won the race).
    """
    now = utcnow()
    today = today or dt.date.today()
    try:
        with session_scope(url) as s:
            if s.scalar(select(func.count()).select_from(t.Branch)):
                return False
            _insert_all(s, today, now)
            _advance_sequences(s)
    except IntegrityError:
        return False  # a concurrent seed committed first
    return True

