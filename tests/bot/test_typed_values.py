"""Tests of bot.typed_values: the canonical spelling of everything customers type as an identifier."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # runnable with a bare `pytest`, without an installed package
    sys.path.insert(0, str(ROOT))

from bot import typed_values as ids  # noqa: E402
from bot.demo_data import BRANCHES, PRODUCTS  # noqa: E402

SKUS = {sku for sku, *_ in PRODUCTS}

ORDER_FORMS = [
    "PED-{n}", "ped {n}", "ped{n}", "Pedido #{n}", "pedido no. {n}", "#{n}", "{n}",
    " PED – {n} ", "PED—{n}", "pedido {n}", "Pedido: {n}", "orden {n}", "order #{n}",
    "número {n}", "num {n}", "compra {n}", "pedido número {n}", "ORDEN DE COMPRA {n}",
]
TICKET_FORMS = [
    "TCK-{n}", "tck {n}", "TCK{n}", "ticket #{n}", "folio {n}", "reporte {n}", "#{n}", "{n}",
    " tck – {n} ", "Ticket número {n}", "caso {n}",
]
five_digits = st.from_regex(r"[0-9]{5}", fullmatch=True)
four_digits = st.from_regex(r"[0-9]{4}", fullmatch=True)


def _recase(text: str, upper: bool) -> str:
    return text.upper() if upper else text.lower()


# --------------------------------------------------------------------------- order ids


@pytest.mark.parametrize("form", ORDER_FORMS)
def test_normalise_order_id_typed_forms(form: str) -> None:
    assert ids.normalise_order_id(form.format(n="10234")) == "PED-10234"


@pytest.mark.parametrize(
    "text", ["TCK-2041", "1234567", "abc", "", "PED-1", "PED-102345", "10000 piezas", "ped 1023", None]
)
def test_normalise_order_id_rejects_non_orders(text: str | None) -> None:
    assert ids.normalise_order_id(text) is None


def test_find_order_ids_in_free_text() -> None:
    assert ids.find_order_ids("mi pedido 10234 y el ped-10235") == ["PED-10234", "PED-10235"]
    assert ids.find_order_ids("¿Dónde está mi pedido es el 10234?") == ["PED-10234"]
    assert ids.find_order_ids("pedidos 10234, 10235 y 10236") == ["PED-10234", "PED-10235", "PED-10236"]
    assert ids.find_order_ids("el #10234 por favor") == ["PED-10234"]
    assert ids.find_order_ids("10234") == ["PED-10234"]


def test_find_order_ids_repeats_are_reported_once() -> None:
    assert ids.find_order_ids("PED-10234, o sea el pedido 10234") == ["PED-10234"]


@pytest.mark.parametrize(
    "text",
    [
        "quiero 10000 piezas",
        "tengo 12345 pesos",
        "ticket número 12345",
        "el TCK-2041",
        "pedido 10234 y 10000 piezas extra",  # only the first is an order
        "llámame al 5512345678",
    ],
)
def test_find_order_ids_ignores_numbers_that_are_not_orders(text: str) -> None:
    assert all(found == "PED-10234" for found in ids.find_order_ids(text))
    if "10234" not in text:
        assert ids.find_order_ids(text) == []


def test_find_order_id_spans_point_at_the_id() -> None:
    text = "hola, mi pedido 10234 y el ped-10235"
    spans = ids.find_order_id_spans(text)
    assert [text[s.start:s.end] for s in spans] == ["10234", "ped-10235"]


# --------------------------------------------------------------------------- ticket ids


@pytest.mark.parametrize("form", TICKET_FORMS)
def test_normalise_ticket_id_typed_forms(form: str) -> None:
    assert ids.normalise_ticket_id(form.format(n="2041")) == "TCK-2041"


@pytest.mark.parametrize("text", ["PED-10234", "TCK-20411", "tck 204", "hola", "", "folio"])
def test_normalise_ticket_id_rejects_non_tickets(text: str) -> None:
    assert ids.normalise_ticket_id(text) is None


def test_find_ticket_ids_in_free_text() -> None:
    assert ids.find_ticket_ids("el tck 2041 y el folio 2042") == ["TCK-2041", "TCK-2042"]
    assert ids.find_ticket_ids("mi ticket es el 2041 del pedido 10234") == ["TCK-2041"]
    assert ids.find_ticket_ids("pedido no. 2041") == []  # an order word never introduces a ticket
    assert ids.find_ticket_ids("en 2024 compré 3000 piezas") == []


# --------------------------------------------------------------------------- emails


def test_find_emails_lowercases_and_dedupes() -> None:
    text = "Escríbeme a Juan.Perez@Empresa.com.MX o a juan.perez@empresa.com.mx, gracias."
    assert ids.find_emails(text) == ["juan.perez@empresa.com.mx"]


def test_find_emails_ignores_non_addresses() -> None:
    assert ids.find_emails("mi correo es juan arroba empresa punto com") == []
    assert ids.find_emails("@usuario en twitter") == []


# --------------------------------------------------------------------------- quantities


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5 piezas", 5), ("cinco", 5), ("una docena", 12), ("10 pzas", 10), ("20 units", 20),
        ("x3", 3), ("3x", 3), ("10pzas", 10), ("quiero 10000 piezas", 10000),
        ("necesito cinco toner", 5), ("quiero unas 5", 5), ("media docena", 6),
        ("dos docenas de cartuchos", 24), ("ciento veinte piezas", 120), ("un par de laptops", 2),
        ("twenty five units", 25), ("veinticinco", 25), ("3", 3), ("1,000 piezas", 1000),
        ("x 1,000", 1000), ("quiero x1.000 toner", 1000),  # used to raise ValueError
    ],
)
def test_find_quantity(text: str, expected: int) -> None:
    assert ids.find_quantity(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "rtx 3060", "switch de 8 puertos", "hp 250 g9", "a las 5 de la tarde", "$500",
        "mi pedido 10234", "el tck 2041", "disco de 1 tb", "hace 3 dias", "4x4", "the one", "",
        "hola", "cable cat6",
    ],
)
def test_find_quantity_ignores_numbers_that_are_not_counts(text: str) -> None:
    assert ids.find_quantity(text) is None


# --------------------------------------------------------------------------- branches


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Monterrey", "mty"), ("MTY", "mty"), ("monterey", "mty"), ("guadalajra", "gdl"),
        ("Mérida", "mid"), ("merida", "mid"), ("Nuevo León", "mty"), ("CDMX", "cdmx"),
        ("el D.F.", "cdmx"), ("Ciudad   de México", "cdmx"), ("cuidad de mexico", "cdmx"),
        ("¿tienen en zapopan?", "gdl"), ("sucursal Puebla", "pue"), ("yucatan", "mid"),
    ],
)
def test_branch_id(text: str, expected: str) -> None:
    assert ids.branch_id(text) == expected


@pytest.mark.parametrize("text", ["", "hola", "Cancún", "en mi pueblo", "a la medida", "mexico", None])
def test_branch_id_rejects_other_places_and_lookalike_words(text: str | None) -> None:
    assert ids.branch_id(text) is None


def test_one_typo_only_for_long_words() -> None:
    assert ids.branch_id("pueblq") == "pue"  # 6 letters: one typo tolerated
    assert ids.branch_id("mtx") is None  # short aliases must be exact
    assert ids.branch_id("guadalajrra") == "gdl"
    assert ids.branch_id("guadlajra") is None  # two typos


# --------------------------------------------------------------------------- SKUs


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cf258a", "CF258A"), ("CF 258A", "CF258A"), ("tl sg108", "TL-SG108"),
        ("TL-SG108", "TL-SG108"), ("kin 8gb ddr4", "KIN-8GB-DDR4"), ("uap ac lite", "UAP-AC-LITE"),
        ("cf258a.", "CF258A"),
    ],
)
def test_normalise_sku(text: str, expected: str) -> None:
    assert ids.normalise_sku(text) == expected


@pytest.mark.parametrize("text", ["hola", "cf258b", "C#F258A", "toner hp 58a", "", None])
def test_normalise_sku_rejects_non_skus(text: str | None) -> None:
    assert ids.normalise_sku(text) is None


def test_sku_variants_cover_spacing_and_dashes() -> None:
    variants = ids.sku_variants("CF258A")
    assert {"cf258a", "cf 258a", "cf-258a"} <= set(variants)
    assert all(ids.normalise_sku(v) == "CF258A" for v in variants)


# --------------------------------------------------------------------------- properties


@given(n=five_digits, form=st.sampled_from(ORDER_FORMS), upper=st.booleans())
def test_property_any_typed_order_number_normalises(n: str, form: str, upper: bool) -> None:
    text = _recase(form.format(n=n), upper)
    assert ids.normalise_order_id(text) == f"PED-{n}"
    assert ids.find_order_ids(text) == [f"PED-{n}"]


# a bare number inside a sentence is deliberately not an order, so "{n}" is left out here
SENTENCE_FORMS = [form for form in ORDER_FORMS if form != "{n}"]


@given(n=five_digits, form=st.sampled_from(SENTENCE_FORMS), lead=st.sampled_from(["hola,", "mi", "sobre el"]))
def test_property_order_number_found_inside_a_sentence(n: str, form: str, lead: str) -> None:
    assert ids.find_order_ids(f"{lead} {form.format(n=n)} gracias") == [f"PED-{n}"]


@given(n=four_digits, form=st.sampled_from(TICKET_FORMS), upper=st.booleans())
def test_property_any_typed_ticket_number_normalises(n: str, form: str, upper: bool) -> None:
    text = _recase(form.format(n=n), upper)
    assert ids.normalise_ticket_id(text) == f"TCK-{n}"
    assert ids.find_ticket_ids(text) == [f"TCK-{n}"]


@given(
    n=st.integers(min_value=10000, max_value=99999),
    unit=st.sampled_from(["piezas", "pzas", "unidades", "units"]),
)
def test_property_quantities_are_not_order_numbers(n: int, unit: str) -> None:
    text = f"quiero {n} {unit}"
    assert ids.find_order_ids(text) == []
    assert ids.find_quantity(text) == n


@given(st.one_of(st.text(), five_digits.map(lambda n: f"ped {n}"), four_digits.map(lambda n: f"tck {n}")))
def test_property_normalisation_is_idempotent(text: str) -> None:
    for normalise in (ids.normalise_order_id, ids.normalise_ticket_id, ids.normalise_sku, ids.branch_id):
        once = normalise(text)
        if once is not None:
            assert normalise(once) == once


@settings(max_examples=300)
@given(st.text())
def test_property_arbitrary_text_never_raises_and_yields_canonical_values(text: str) -> None:
    order = ids.normalise_order_id(text)
    assert order is None or re.fullmatch(r"PED-[0-9]{5}", order)
    ticket = ids.normalise_ticket_id(text)
    assert ticket is None or re.fullmatch(r"TCK-[0-9]{4}", ticket)
    assert all(ids.ORDER_ID_RE.match(found) for found in ids.find_order_ids(text))
    assert all(ids.TICKET_ID_RE.match(found) for found in ids.find_ticket_ids(text))
    assert all(e == e.lower() and "@" in e for e in ids.find_emails(text))
    quantity = ids.find_quantity(text)
    assert quantity is None or (isinstance(quantity, int) and quantity > 0)
    assert ids.branch_id(text) in (None, *BRANCHES)
    assert ids.normalise_sku(text) in (None, *SKUS)


@given(st.text(min_size=1, max_size=200))
def test_property_spans_lie_inside_the_text(text: str) -> None:
    for finder in (ids.find_order_id_spans, ids.find_ticket_id_spans, ids.find_email_spans,
                   ids.find_quantity_spans, ids.find_branch_spans):
        for span in finder(text):
            assert 0 <= span.start < span.end <= len(text)
