"""Tests of IdEntityNormaliser.process() on real Rasa messages (no training needed)."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest
import spacy
import yaml
from spacy.tokens import Span as SpacySpan

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import SPACY_DOCS
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:  # runnable with a bare `pytest`, without an installed package
    sys.path.insert(0, str(ROOT))

from bot import typed_values as ids  # noqa: E402
from bot.folding import fold  # noqa: E402
from bot.nlu.entities import IdEntityNormaliser  # noqa: E402

NAME = "IdEntityNormaliser"


@pytest.fixture(scope="module")
def component() -> IdEntityNormaliser:
    return IdEntityNormaliser.create(IdEntityNormaliser.get_default_config(), None, None, None)


def diet(entity: str, value: Any, start: int = 0, end: int = 1) -> dict[str, Any]:
    """An entity as DIETClassifier would have left it on the message."""
    return {"entity": entity, "value": value, "start": start, "end": end,
            "extractor": "DIETClassifier", "confidence_entity": 0.9}


def run(component: IdEntityNormaliser, text: str, entities: list | None = None,
        doc: Any = None) -> list[dict[str, Any]]:
    message = Message(data={TEXT: text, ENTITIES: entities or []})
    if doc is not None:
        message.set(SPACY_DOCS[TEXT], doc)
    component.process([message])
    return message.get(ENTITIES)


def pairs(entities: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [(e["entity"], e["value"]) for e in entities]


# --------------------------------------------------------------------------- registration


def test_registered_as_non_trainable_entity_extractor() -> None:
    registered = DefaultV1Recipe._from_registry("bot.nlu.entities.IdEntityNormaliser")
    assert registered.clazz is IdEntityNormaliser
    assert registered.types == {DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR}
    assert registered.is_trainable is False
    assert IdEntityNormaliser.required_packages() == ["spacy"]


def test_process_training_data_is_a_no_op(component: IdEntityNormaliser) -> None:
    data = TrainingData([Message(data={TEXT: "pedido 10234", ENTITIES: []})])
    assert component.process_training_data(data) is data
    assert data.training_examples[0].get(ENTITIES) == []


def test_project_config_runs_it_after_the_entity_extractor_and_synonyms() -> None:
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    names = [step["name"] for step in config["pipeline"]]
    position = names.index("bot.nlu.entities.IdEntityNormaliser")
    assert position > names.index("CRFEntityExtractor")
    assert position > names.index("EntitySynonymMapper")


def test_validates_inside_a_rasa_graph() -> None:
    from rasa.engine import validation
    from rasa.engine.recipes.recipe import Recipe
    from rasa.shared.data import TrainingType

    config = {
        "recipe": "default.v1", "language": "es", "policies": [],
        "pipeline": [
            {"name": "WhitespaceTokenizer"}, {"name": "CountVectorsFeaturizer"},
            {"name": "DIETClassifier", "epochs": 1}, {"name": "EntitySynonymMapper"},
            {"name": "bot.nlu.entities.IdEntityNormaliser"},
        ],
    }
    graph = Recipe.recipe_for_name("default.v1").graph_config_for_recipe(
        config, {}, training_type=TrainingType.NLU
    )
    validation.validate(graph)  # raises GraphSchemaValidationException on a bad signature
    node = graph.predict_schema.nodes["run_bot.nlu.entities.IdEntityNormaliser4"]
    assert node.uses is IdEntityNormaliser
    assert node.needs == {"messages": "run_EntitySynonymMapper3"}


# --------------------------------------------------------------------------- (a) existing entities


@pytest.mark.parametrize(
    ("entity", "raw", "canonical"),
    [
        ("order_id", "ped 10234", "PED-10234"),
        ("order_id", "Pedido #10234", "PED-10234"),
        ("order_id", "10234", "PED-10234"),
        ("ticket_id", "tck2041", "TCK-2041"),
        ("ticket_id", "folio 2041", "TCK-2041"),
        ("branch", "Monterrey", "mty"),
        ("branch", "guadalajra", "gdl"),
        ("email", "JUAN.Perez@Empresa.COM", "juan.perez@empresa.com"),
        ("quantity", "cinco", "5"),
        ("quantity", "una docena", "12"),
        ("quantity", 7, "7"),
        ("product", "cf 258a", "CF258A"),
    ],
)
def test_existing_entities_become_canonical(
    component: IdEntityNormaliser, entity: str, raw: Any, canonical: str
) -> None:
    found = run(component, "texto sin mas datos", [diet(entity, raw)])
    assert pairs(found) == [(entity, canonical)]
    assert found[0]["extractor"] == "DIETClassifier"  # DIET still owns the span
    assert NAME in found[0].get("processors", [])


def test_canonical_values_are_left_untouched(component: IdEntityNormaliser) -> None:
    found = run(component, "texto", [diet("order_id", "PED-10234")])
    assert pairs(found) == [("order_id", "PED-10234")]
    assert "processors" not in found[0]


def test_free_text_product_names_are_kept(component: IdEntityNormaliser) -> None:
    assert pairs(run(component, "texto", [diet("product", "toner negro")])) == [("product", "toner negro")]


@pytest.mark.parametrize(
    ("entity", "junk"),
    [("order_id", "hola"), ("order_id", "PED-1"), ("ticket_id", "TCK-10234"), ("branch", "Cancún"),
     ("email", "no tengo"), ("quantity", "muchos"), ("quantity", 0), ("quantity", 2.5),
     ("quantity", float("inf")), ("quantity", float("nan"))],
)
def test_junk_entities_are_dropped(component: IdEntityNormaliser, entity: str, junk: Any) -> None:
    assert run(component, "hola qué tal", [diet(entity, junk)]) == []


def test_entities_it_does_not_manage_pass_through(component: IdEntityNormaliser) -> None:
    other = diet("person", "Ana")
    duckling = {"entity": "time", "value": {"from": "2024-01-01", "to": None}, "start": 8, "end": 14,
                "extractor": "DucklingEntityExtractor"}
    assert run(component, "soy Ana, mañana", [other, duckling]) == [other, duckling]


# --------------------------------------------------------------------------- (b) missed entities


def test_adds_missed_order_ids_with_spans(component: IdEntityNormaliser) -> None:
    text = "mi pedido 10234 y el ped-10235"
    found = run(component, text)
    assert pairs(found) == [("order_id", "PED-10234"), ("order_id", "PED-10235")]
    assert [text[e["start"]:e["end"]] for e in found] == ["10234", "ped-10235"]
    assert all(e["extractor"] == NAME for e in found)


def test_adds_everything_diet_missed(component: IdEntityNormaliser) -> None:
    text = "Quiero 10 piezas del CF 258A en Monterey, ticket TCK2041, correo Ana@Mail.MX"
    found = run(component, text)
    assert sorted(pairs(found)) == sorted([
        ("quantity", "10"), ("product", "CF258A"), ("branch", "mty"),
        ("ticket_id", "TCK-2041"), ("email", "ana@mail.mx"),
    ])
    for entity in found:
        assert entity["extractor"] == NAME
        assert 0 <= entity["start"] < entity["end"] <= len(text)
    spans = {e["entity"]: text[e["start"]:e["end"]] for e in found}
    assert spans["product"] == "CF 258A"
    assert spans["branch"] == "Monterey"


def test_bare_five_digit_number_is_an_order_only_when_alone(component: IdEntityNormaliser) -> None:
    assert pairs(run(component, "10234")) == [("order_id", "PED-10234")]
    assert pairs(run(component, "quiero 10000 piezas")) == [("quantity", "10000")]


@pytest.mark.parametrize(
    ("text", "branch"),
    [("¿tienen en guanatos?", "gdl"), ("sucursal D.F.", "cdmx"), ("en Mérida", "mid"),
     ("guadalajra", "gdl"), ("nuevo leon", "mty")],
)
def test_branch_from_alias(component: IdEntityNormaliser, text: str, branch: str) -> None:
    assert pairs(run(component, text)) == [("branch", branch)]


def test_aliases_inside_an_email_are_not_branches(component: IdEntityNormaliser) -> None:
    assert pairs(run(component, "escribe a ventas.mty@empresa.com")) == [("email", "ventas.mty@empresa.com")]


def test_numbers_inside_skus_are_not_quantities(component: IdEntityNormaliser) -> None:
    assert pairs(run(component, "precio del tn 660")) == [("product", "TN660")]


# --------------------------------------------------------------------------- (c) spaCy places


def _doc_with_place(text: str, start_token: int, end_token: int, label: str = "LOC"):
    doc = spacy.blank("es")(text)
    doc.ents = [SpacySpan(doc, start_token, end_token, label=label)]
    return doc


def test_spacy_place_that_is_a_branch_becomes_a_branch(component: IdEntityNormaliser) -> None:
    text = "voy a Nuevo León mañana"
    places = component._places_from_spacy(
        Message(data={TEXT: text, SPACY_DOCS[TEXT]: _doc_with_place(text, 2, 4)}), text, text.lower()
    )
    assert places == [("branch", "mty", 6, 16)]


def test_spacy_places_that_are_not_branches_or_not_places_are_ignored(component: IdEntityNormaliser) -> None:
    text = "voy a Cancún con Monterrey"
    not_branch = _doc_with_place(text, 2, 3)
    person = _doc_with_place(text, 4, 5, label="PER")
    for doc in (not_branch, person):
        message = Message(data={TEXT: text, SPACY_DOCS[TEXT]: doc})
        assert component._places_from_spacy(message, text, text.lower()) == []


def test_spacy_place_is_not_duplicated_with_alias_match(component: IdEntityNormaliser) -> None:
    text = "tienen en Monterrey el cf258a"
    found = run(component, text, doc=_doc_with_place(text.lower(), 2, 3))
    assert sorted(pairs(found)) == [("branch", "mty"), ("product", "CF258A")]


class _Untouchable:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the spaCy doc was read ({name})")


def test_spacy_doc_with_lowercased_text_of_other_length_still_maps_offsets(
    component: IdEntityNormaliser,
) -> None:
    text = "İ voy a Nuevo León"
    doc_text = text.lower()  # what SpacyNLP feeds spaCy; "İ" lowercases to two characters
    assert len(doc_text) != len(text)
    doc = _doc_with_place(doc_text, 3, 5)
    places = component._places_from_spacy(Message(data={TEXT: text, SPACY_DOCS[TEXT]: doc}), text,
                                          fold(text))
    assert [(t, v, text[s:e]) for t, v, s, e in places] == [("branch", "mty", "Nuevo León")]


def test_spacy_doc_is_read_when_enabled(component: IdEntityNormaliser) -> None:
    with pytest.raises(AssertionError, match="spaCy doc was read"):
        component.process([Message(data={TEXT: "hola", SPACY_DOCS[TEXT]: _Untouchable()})])


def test_disabling_spacy_places_does_not_read_the_doc() -> None:
    quiet = IdEntityNormaliser.create({"use_spacy_places": False}, None, None, None)
    text = "voy a Nuevo León"
    message = Message(data={TEXT: text, SPACY_DOCS[TEXT]: _Untouchable()})
    quiet.process([message])
    assert pairs(message.get(ENTITIES)) == [("branch", "mty")]


# --------------------------------------------------------------------------- duplicates / robustness


def test_no_duplicates_per_type_and_value(component: IdEntityNormaliser) -> None:
    text = "pedido 10234, o sea el PED-10234, repito ped 10234"
    found = run(component, text, [diet("order_id", "10234", 7, 12), diet("order_id", "ped 10234", 41, 50)])
    assert pairs(found) == [("order_id", "PED-10234")]
    assert found[0]["extractor"] == "DIETClassifier"


def test_diet_and_component_agree_on_one_entity(component: IdEntityNormaliser) -> None:
    found = run(component, "en monterrey", [diet("branch", "monterrey", 3, 12)])
    assert pairs(found) == [("branch", "mty")]


def test_long_text_does_not_raise(component: IdEntityNormaliser) -> None:
    text = ("hola pedido 10234 en monterrey, quiero 5 piezas del cf258a 😀 " * 90)[:5000]
    assert len(text) == 5000
    found = run(component, text)
    assert ("order_id", "PED-10234") in pairs(found)
    assert len(pairs(found)) == len(set(pairs(found)))


@pytest.mark.parametrize("text", ["😀😀🔥🙏", "", "   ", "\u200b\u202e", "🇲🇽"])
def test_emoji_and_empty_text_yield_nothing(component: IdEntityNormaliser, text: str) -> None:
    assert run(component, text) == []


def test_message_without_text_is_left_alone(component: IdEntityNormaliser) -> None:
    message = Message(data={})
    component.process([message])
    assert message.get(ENTITIES) is None


def test_cost_per_typical_message_is_well_under_a_millisecond(component: IdEntityNormaliser) -> None:
    texts = ["mi pedido 10234 y el ped-10235", "quiero 10 piezas del CF 258A en monterey",
             "¿cuál es el estatus de mi ticket tck 2041?", "hola buenos días",
             "tienen el switch tp-link de 8 puertos en gdl?"]
    rounds = 200
    started = time.perf_counter()
    for _ in range(rounds):
        component.process([Message(data={TEXT: t, ENTITIES: []}) for t in texts])
    per_message_ms = (time.perf_counter() - started) / (rounds * len(texts)) * 1000
    # measured ~0.15 ms; the bound is loose for busy CI machines but catches per-message rebuilds
    assert per_message_ms < 2.0
