"""LinearIntentClassifier trained for real on a small data set, persisted and loaded again."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:  # runnable with a bare `pytest`, without an installed package
    sys.path.insert(0, str(ROOT))

from bot.nlu import intent_classifier  # noqa: E402
from bot.nlu.intent_classifier import LinearIntentClassifier, shape  # noqa: E402

EXAMPLES = {
    "greet": ["hola", "buenos días", "qué onda", "hello there", "hi", "buenas tardes"],
    "check_order_status": ["dónde está mi pedido", "where is my order", "ya salió mi pedido?",
                           "status de mi orden", "my order has not arrived", "cuándo llega mi pedido"],
    "inform": ["PED-10234", "es el 10235", "TCK-2041", "ana@example.com", "el ped 10240", "tck 2050"],
}


def _training_data() -> TrainingData:
    return TrainingData([Message(data={TEXT: text, INTENT: intent})
                         for intent, texts in EXAMPLES.items() for text in texts])


@pytest.fixture
def storage(tmp_path: Path) -> LocalModelStorage:
    (tmp_path / "storage").mkdir()
    return LocalModelStorage(tmp_path / "storage")


def _context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test")


MODELS = ["logistic", "svm"]


def _trained(storage: LocalModelStorage, model: str = "logistic") -> tuple[LinearIntentClassifier, Resource]:
    resource = Resource("linear_intent")
    component = LinearIntentClassifier.create({"model": model}, storage, resource, _context())
    component.train(_training_data())
    return component, resource


def _classify(component: LinearIntentClassifier, text: str) -> Message:
    message = Message(data={TEXT: text})
    component.process([message])
    return message


def test_shape_keeps_the_form_of_ids_and_drops_their_digits() -> None:
    assert shape("el pedido PED-10299 y tck 2077") == "el pedido PED-00000 y tck 0000"
    assert shape("soy jo.mtz+ventas@example.com.mx") == "soy  emailaddress "


@pytest.mark.parametrize("model", MODELS)
def test_predicts_unseen_phrasings_and_ids_it_never_saw(storage: LocalModelStorage, model: str) -> None:
    component, _ = _trained(storage, model)
    assert _classify(component, "holaaa buenos dias").get(INTENT)["name"] == "greet"
    assert _classify(component, "dónde está el pedido que hice").get(INTENT)["name"] == "check_order_status"
    # Digits never seen in training: the shape of the id, not its value, decides.
    assert _classify(component, "PED-10299").get(INTENT)["name"] == "inform"


@pytest.mark.parametrize("model", MODELS)
def test_ranking_is_a_probability_distribution_best_first(storage: LocalModelStorage, model: str) -> None:
    component, _ = _trained(storage, model)
    message = _classify(component, "where is my order")
    ranking = message.get("intent_ranking")
    assert [r["name"] for r in ranking][0] == message.get(INTENT)["name"] == "check_order_status"
    confidences = [r["confidence"] for r in ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) == pytest.approx(1.0)
    assert {r["name"] for r in ranking} == set(EXAMPLES)


@pytest.mark.parametrize("model", MODELS)
def test_a_loaded_model_gives_the_same_answers(storage: LocalModelStorage, model: str) -> None:
    component, resource = _trained(storage, model)
    loaded = LinearIntentClassifier.load({"model": model}, storage, resource, _context())
    for text in ("hola", "mi pedido no llega", "TCK-2055", "something else entirely"):
        assert _classify(loaded, text).get(INTENT) == _classify(component, text).get(INTENT)


def test_svm_confidences_follow_its_margins_and_flatten_where_no_class_claims_the_message(
    storage: LocalModelStorage,
) -> None:
    component, _ = _trained(storage, "svm")
    texts = ["where is my order", "hola", "zzzz qwerty"]
    margins = component._classifier.decision_function(component._matrix([Message(data={TEXT: t}) for t in texts]))
    for text, row in zip(texts, margins):
        ranking = _classify(component, text).get("intent_ranking")
        assert ranking[0]["name"] == component._classifier.classes_[row.argmax()]
    clear = _classify(component, "where is my order").get(INTENT)["confidence"]
    unclear = _classify(component, "zzzz qwerty").get(INTENT)["confidence"]
    assert clear - unclear > 0.2, (clear, unclear)


def test_a_model_file_with_unexpected_types_is_refused(storage: LocalModelStorage) -> None:
    """The file is loaded with skops, not pickle: anything we did not write is refused."""
    import scipy.sparse
    import skops.io

    _, resource = _trained(storage)
    with storage.write_to(resource) as directory:
        skops.io.dump({"classifier": scipy.sparse.csr_matrix((1, 1))}, directory / intent_classifier.MODEL_FILE)
    with pytest.raises(RuntimeError, match="unexpected types"):
        LinearIntentClassifier.load({}, storage, resource, _context())


def test_the_vectorizer_is_saved_without_pickle_or_skops_and_rebuilt_the_same(storage: LocalModelStorage) -> None:
    """Vocabularies as JSON and IDF weights as plain arrays: loading runs no code from the files,
    and the rebuilt vectorizer gives the very features the trained one gave."""
    component, resource = _trained(storage, "svm")
    loaded = LinearIntentClassifier.load({"model": "svm"}, storage, resource, _context())
    texts = [shape(t) for t in ["dónde está mi pedido PED-10234", "hola, qué onda", "zzz"]]
    before, after = component._vectorizer.transform(texts), loaded._vectorizer.transform(texts)
    assert before.shape == after.shape and abs(before - after).max() == 0
    with storage.read_from(resource) as directory:
        assert (directory / intent_classifier.VOCABULARY_FILE).exists()
        assert (directory / intent_classifier.IDF_FILE).exists()


def test_without_training_data_it_leaves_messages_alone(storage: LocalModelStorage) -> None:
    resource = Resource("empty")
    component = LinearIntentClassifier.create({}, storage, resource, _context())
    component.train(TrainingData([]))
    loaded = LinearIntentClassifier.load({}, storage, resource, _context())
    assert _classify(loaded, "hola").get(INTENT) is None


def test_project_config_takes_the_intent_from_it_and_validates_in_a_rasa_graph() -> None:
    """It must run after any other intent classifier and before the fallback that reads its confidence."""
    import yaml
    from rasa.engine import validation
    from rasa.engine.recipes.recipe import Recipe
    from rasa.shared.data import TrainingType

    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    names = [step["name"] for step in config["pipeline"]]
    position = names.index("bot.nlu.intent_classifier.LinearIntentClassifier")
    assert "DIETClassifier" not in names[position:]
    assert position < names.index("FallbackClassifier")
    graph = Recipe.recipe_for_name("default.v1").graph_config_for_recipe(
        {**config, "policies": []}, {}, training_type=TrainingType.NLU
    )
    validation.validate(graph)  # raises GraphSchemaValidationException on a bad signature
    assert any(node.uses is LinearIntentClassifier for node in graph.predict_schema.nodes.values())


def test_saving_and_loading_leave_the_logging_level_alone(storage: LocalModelStorage, monkeypatch) -> None:
    """Importing skops sets the root logger to WARNING; the server's INFO lines must survive it."""
    import logging

    for name in [m for m in sys.modules if m == "skops" or m.startswith("skops.")]:
        monkeypatch.delitem(sys.modules, name)  # so that the import, and its side effect, run again
    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.INFO)
    try:
        _, resource = _trained(storage)
        LinearIntentClassifier.load({}, storage, resource, _context())
        assert root.level == logging.INFO
    finally:
        root.setLevel(before)


@pytest.mark.parametrize("text, bare", [
    ("?", True), ("...", True), ("¿¡!!", True), (" ? ", True),
    ("👍", False), ("ok?", False), ("PED-10234", False), ("", False),
])
def test_punctuation_alone_is_told_apart(text: str, bare: bool) -> None:
    assert intent_classifier.punctuation_only(text) is bare


def test_punctuation_alone_gets_no_intent_so_the_fallback_answers(storage: LocalModelStorage) -> None:
    component, _ = _trained(storage)
    message = _classify(component, "??")
    assert message.get(INTENT) == {"name": None, "confidence": 0.0}
    assert message.get("intent_ranking") == []
    assert _classify(component, "hola?").get(INTENT)["name"] == "greet"
