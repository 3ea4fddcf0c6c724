"""SqlBackend against the seeded demo database, on SQLite and on PostgreSQL."""
from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import inspect

from actions.backend import base, demo
from actions.backend.schema import alembic_config
from actions.backend.sql import SqlBackend
from bot import db, service

HOUR = dt.timedelta(hours=1)


@pytest.fixture(scope="module")
def backend(seeded_url: str) -> SqlBackend:
    return SqlBackend(seeded_url)


def test_migration_creates_every_table_and_matches_the_models(seeded_url: str) -> None:
    tables = set(inspect(db.get_engine(seeded_url)).get_table_names())
    assert {"contacts", "channel_identities", "conversations", "messages", "link_codes",
            "link_attempts", "branches", "products", "stock", "customers", "distributors",
            "orders", "order_items", "tickets", "alembic_version", "backend_alembic_version"} <= tables
    assert "events" not in tables  # Rasa's SQLTrackerStore owns that name
    command.check(alembic_config(seeded_url))  # raises if the models drifted from the migrations


def test_results_are_dataclasses_not_orm_rows(backend: SqlBackend) -> None:
    values = [
        backend.branches()[0], backend.find_products("toner 58a")[0], backend.product("CF258A"),
        backend.stock("CF258A")[0], backend.order("PED-10234"), backend.customer(1),
        backend.distributor_by_phone("+528155550101"), backend.ticket("TCK-2041"),
    ]
    for value in values:
        assert dataclasses.is_dataclass(value) and not hasattr(value, "_sa_instance_state")


# Branches and catalogue


def test_branches_are_the_five_demo_branches(backend: SqlBackend) -> None:
    branches = backend.branches()
    assert [b.id for b in branches] == ["cdmx", "gdl", "mid", "mty", "pue"]
    mty = next(b for b in branches if b.id == "mty")
    assert mty.name == "Monterrey" and mty.lat == pytest.approx(25.6866)


@pytest.mark.parametrize("given", ["mty", "MTY", " mty ", "Monterrey"])
def test_branch_by_id_or_name(backend: SqlBackend, given: str) -> None:
    assert backend.branch(given).id == "mty"


def test_unknown_branch_is_none(backend: SqlBackend) -> None:
    assert backend.branch("tijuana") is None


@pytest.mark.parametrize(
    "query", ["toner 58a", "tonner hp 58 a", "cf258a", "CF-258A", "CF258A", "Tóner HP 58A",
              "tienen toner 58a en monterrey?"]
)
def test_find_products_finds_cf258a(backend: SqlBackend, query: str) -> None:
    found = backend.find_products(query)
    assert found[0].sku == "CF258A"
    assert "CF258X" not in [p.sku for p in found]  # a different model number is not a match


@pytest.mark.parametrize(
    "query, sku",
    [("toner 85a", "CE285A"), ("tn-660", "TN660"), ("laptops lenovo", "LEN-V15"), ("nobreak", "APC-BX1000"),
     ("rtx 3060", "VGA-RTX3060"), ("camara web logitech", "WEB-C920"), ("ratón logitech", "LOG-M170")],
)
def test_find_products_other_products(backend: SqlBackend, query: str, sku: str) -> None:
    assert backend.find_products(query)[0].sku == sku


def test_find_products_generic_word_lists_several_best_first_within_limit(backend: SqlBackend) -> None:
    toners = [p.sku for p in backend.find_products("toner", limit=10)]
    assert {"CF258A", "CF258X", "CE285A", "TN660"} <= set(toners)
    assert len(backend.find_products("toner", limit=2)) == 2


@pytest.mark.parametrize("query", ["pizza hawaiana", "", "   ", "hola"])
def test_find_products_without_match_is_empty(backend: SqlBackend, query: str) -> None:
    assert backend.find_products(query) == []


def test_product_by_sku_is_case_and_dash_insensitive(backend: SqlBackend) -> None:
    product = backend.product("cf-258a")
    assert product == base.Product("CF258A", "Tóner HP 58A negro", "consumibles", 2150.0)
    assert backend.product("tp archer-c6").sku == "TP-ARCHERC6"
    assert backend.product("NOPE-1") is None


def test_stock_lists_every_branch_including_zeros(backend: SqlBackend) -> None:
    levels = {level.branch.id: level.quantity for level in backend.stock("cf258a")}
    assert levels == {"mty": 42, "gdl": 0, "pue": 0, "mid": 0, "cdmx": 0}
    assert {level.quantity for level in backend.stock("VGA-RTX3060")} == {0}
    assert backend.stock("NOPE-1") == []


# Orders and customers


@pytest.mark.parametrize("given", ["PED-10234", "ped-10234", "PED10234", "ped 10234", "10234"])
def test_order_by_any_spelling_of_its_id(backend: SqlBackend, given: str) -> None:
    order = backend.order(given)
    assert order.id == "PED-10234" and order.customer_id == 1
    assert order.status == "shipped" and order.carrier == "Estafeta" and order.tracking_number
    assert order.expected_date == dt.date.today() + dt.timedelta(days=2)
    assert [(i.sku, i.name, i.quantity) for i in order.items][0] == ("CF258A", "Tóner HP 58A negro", 2)


def test_delayed_order_carries_its_reason(backend: SqlBackend) -> None:
    order = backend.order("PED-10235")
    assert order.status == "delayed" and "lluvias" in order.delay_reason and order.delay_code == "weather"


@pytest.mark.parametrize("given", ["PED-99999", "TCK-2041", "", "pedido"])
def test_unknown_order_is_none(backend: SqlBackend, given: str) -> None:
    assert backend.order(given) is None


def test_orders_of_lists_a_customers_orders_newest_first(backend: SqlBackend) -> None:
    orders = backend.orders_of(1)
    assert [o.id for o in orders] == ["PED-10234", "PED-10235", "PED-10245"]
    assert all(o.customer_id == 1 for o in orders)
    assert backend.orders_of(999) == []


def test_customer_by_id(backend: SqlBackend) -> None:
    assert backend.customer(1) == base.Customer(
        1, "Ana López", "ana.lopez@example.com", "+5215512345678", "Papelería y Cómputo López"
    )
    assert backend.customer(999) is None


@pytest.mark.parametrize(
    "phone", ["+5215512345678", "+525512345678", "+52 1 55 1234 5678", "5215512345678", "5512345678",
              "whatsapp:+5215512345678"],
)
def test_customer_by_phone_treats_mexican_mobile_spellings_as_one(backend: SqlBackend, phone: str) -> None:
    assert backend.customer_by_phone(phone).id == 1


def test_customer_stored_without_mobile_one_is_found_with_it(backend: SqlBackend) -> None:
    # Carlos is stored as +523312345678; WhatsApp sends +5213312345678.
    assert backend.customer_by_phone("+5213312345678").id == 2


@pytest.mark.parametrize("phone", ["+5215599999999", "not a phone", ""])
def test_unknown_phone_is_none(backend: SqlBackend, phone: str) -> None:
    assert backend.customer_by_phone(phone) is None


def test_customer_by_email_ignores_case_and_spaces(backend: SqlBackend) -> None:
    assert backend.customer_by_email("  Ana.Lopez@Example.COM ").id == 1
    assert backend.customer_by_email("nobody@example.com") is None
    assert backend.customer_by_email("no-at-sign") is None


def test_distributor_by_phone_and_email(backend: SqlBackend) -> None:
    by_phone = backend.distributor_by_phone("+5218155550101")
    assert by_phone.name == "Compunet del Norte" and by_phone.contact_phone == "+528155550101"
    assert by_phone.tier == "top"
    assert backend.distributor_by_email(by_phone.email.upper()) == by_phone
    assert backend.distributor_by_phone("+5215512345678") is None  # Ana is a customer, not a distributor
    assert backend.distributor_by_email("ana.lopez@example.com") is None


# Tickets


def test_seeded_ticket_and_tickets_of(backend: SqlBackend) -> None:
    ticket = backend.ticket("tck 2041")
    assert ticket.id == "TCK-2041" and ticket.customer_id == 1
    assert ticket.created_at.tzinfo is not None and ticket.due_at > ticket.created_at
    assert [t.id for t in backend.tickets_of(1)] == ["TCK-2041"]
    assert backend.ticket("TCK-9999") is None
    assert backend.tickets_of(999) == []


@pytest.mark.parametrize(
    "category, description, priority, area, hours",
    [
        ("order", "Quiero saber si puedo agregar un producto a mi pedido", "normal", "logistics", 24),
        ("delivery", "Mi pedido no ha llegado", "high", "logistics", 8),
        ("delivery", "Es URGENTE, mi entrega no llegó", "urgent", "logistics", 4),
        ("warranty", "La impresora no funciona nada desde ayer", "urgent", "after_sales", 4),
        ("warranty", "El equipo llegó dañado", "high", "after_sales", 8),
        ("product", "Does the laptop include a charger?", "normal", "after_sales", 24),
        ("product", "The printer is not working", "high", "after_sales", 8),
        ("billing", "Me hicieron un cobro doble en la tarjeta", "urgent", "billing", 4),
        ("billing", "Creo que es un fraude", "urgent", "billing", 4),
        ("billing", "You charged my card twice for the same invoice", "urgent", "billing", 4),
        ("billing", "me cobraron dos veces el mismo pedido", "urgent", "billing", 4),
        ("billing", "Necesito la factura en PDF", "normal", "billing", 24),
        ("other", "Sugerencia: abran los sábados", "low", "customer_service", 48),
        ("other", "This is urgent, please call me", "urgent", "customer_service", 4),
    ],
)
def test_ticket_priority_area_and_sla(
    backend: SqlBackend, category: str, description: str, priority: str, area: str, hours: int
) -> None:
    ticket = backend.create_ticket(base.NewTicket(category=category, description=description))
    assert (ticket.priority, ticket.area, ticket.status) == (priority, area, "open")
    # Hours people work (service.yml), not clock hours: the due time is a working time.
    calendar = service.calendar()
    assert calendar.business_seconds(ticket.created_at, ticket.due_at) == pytest.approx(hours * 3600)
    assert calendar.is_open(ticket.due_at - dt.timedelta(seconds=1))
    assert abs(ticket.created_at - db.utcnow()) < HOUR
    assert backend.ticket(ticket.id) == ticket


def test_a_ticket_opened_at_night_is_due_at_a_working_time(fresh_url: str) -> None:
    mexico_city = ZoneInfo("America/Mexico_City")
    monday_night = dt.datetime(2026, 12, 7, 0, 27, tzinfo=mexico_city)
    backend = SqlBackend(fresh_url, clock=lambda: monday_night)
    ticket = backend.create_ticket(base.NewTicket(category="order", description="Cambiar la dirección de entrega"))
    assert (ticket.priority, ticket.created_at) == ("normal", monday_night)
    # 24 business hours: Monday 9-19, Tuesday 9-19, Wednesday 9-13 (it promised Tuesday 00:27).
    assert ticket.due_at == dt.datetime(2026, 12, 9, 13, 0, tzinfo=mexico_city)


def test_created_ticket_is_normalised_and_belongs_to_its_customer(fresh_url: str) -> None:
    demo.seed(fresh_url)
    backend = SqlBackend(fresh_url)
    ticket = backend.create_ticket(base.NewTicket(
        category="order", description="Cambiar dirección", customer_id=1,
        contact_email=" Ana.Lopez@Example.com ", order_id="ped 10234", conversation_id="conv-1",
        language="es",
    ))
    assert ticket.id == "TCK-2046"  # after the seeded TCK-2041..TCK-2045
    assert ticket.contact_email == "ana.lopez@example.com" and ticket.order_id == "PED-10234"
    assert ticket.conversation_id == "conv-1"
    assert [t.id for t in backend.tickets_of(1)] == ["TCK-2046", "TCK-2041"]
    second = backend.create_ticket(base.NewTicket(category="other", description="Gracias"))
    assert second.id == "TCK-2047"


def test_first_ticket_in_an_empty_database(fresh_url: str) -> None:
    ticket = SqlBackend(fresh_url).create_ticket(base.NewTicket(category="other", description="Hola"))
    assert ticket.id == "TCK-1001"


@pytest.mark.parametrize(
    "new",
    [
        base.NewTicket(category="complaint", description="algo"),
        base.NewTicket(category="order", description="   "),
        base.NewTicket(category="order", description="algo", contact_email="not-an-email"),
    ],
)
def test_create_ticket_rejects_invalid_input(backend: SqlBackend, new: base.NewTicket) -> None:
    with pytest.raises(ValueError):
        backend.create_ticket(new)


def test_concurrent_ticket_creation_gives_unique_consecutive_ids(fresh_url: str) -> None:
    backend = SqlBackend(fresh_url)
    created: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker() -> None:
        try:
            start.wait()
            for _ in range(3):
                ticket = backend.create_ticket(base.NewTicket(category="other", description="carga"))
                created.append(ticket.id)
        except BaseException as exc:  # surfaced below; a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(created) == [f"TCK-{n}" for n in range(1001, 1025)]


def test_a_persons_tickets_are_found_and_erased_by_conversation_or_email(fresh_url: str) -> None:
    backend = SqlBackend(fresh_url)
    by_email = backend.create_ticket(base.NewTicket(category="warranty", description="llámenme al 5512345678",
                                                    contact_email="ana@example.com", extra={"phone": "5512345678"}))
    by_chat = backend.create_ticket(base.NewTicket(category="other", description="soy Ana", conversation_id="c-ana"))
    other = backend.create_ticket(base.NewTicket(category="other", description="soy Beto",
                                                 contact_email="beto@example.com", conversation_id="c-beto"))
    about = backend.tickets_about(["c-ana"], "ana@example.com")
    assert [t.id for t in about] == [by_email.id, by_chat.id]
    assert backend.tickets_about([], None) == []

    assert backend.erase_tickets(["c-ana"], "ana@example.com") == 2
    erased = backend.ticket(by_email.id)
    assert erased is not None and erased.description == "[erased]" and erased.contact_email is None
    assert erased.category == "warranty" and erased.status == "open"  # the business record stays
    assert backend.ticket(by_chat.id).description == "[erased]"
    assert backend.ticket(other.id).description == "soy Beto"  # nobody else's
    assert backend.tickets_about(["c-ana"], "ana@example.com") == [backend.ticket(by_chat.id)]
