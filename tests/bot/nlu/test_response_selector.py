"""LinearResponseSelector trained for real on a small data set, persisted and loaded again."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:  # runnable with a bare `pytest`, without an installed package
    sys.path.insert(0, str(ROOT))

from bot.nlu.response_selector import LinearResponseSelector  # noqa: E402

FAQ = {
    "faq/shipping": ["hacen envíos a mérida?", "do you ship to monterrey", "cuánto cuesta el envío",
                     "shipping cost to puebla", "mandan a todo méxico?", "how long does delivery take"],
    "faq/business_hours": ["a qué hora abren", "what time do you open", "abren los sábados?",
                           "opening hours please", "horario de atención", "are you open on sunday"],
    "faq/invoice": ["me pueden facturar", "can i get an invoice", "necesito factura con mi rfc",
                    "how do i request a tax invoice", "cómo pido mi cfdi", "invoice for my purchase"],
}
OTHER = {"greet": ["hola", "hello", "buenas"], "check_order_status": ["dónde está mi pedido", "where is my order"]}
RESPONSES = {f"utter_{key}": [{"text": f"answer to {key}"}, {"text": f"english answer to {key}",
                                                              "condition": [{"type": "slot", "name": "language", "value": "en"}]}]
             for key in FAQ}


def _training_data() -> TrainingData:
    examples = [Message(data={TEXT: text, INTENT: "faq", INTENT_RESPONSE_KEY: key})
                for key, texts in FAQ.items() for text in texts]
    examples += [Message(data={TEXT: text, INTENT: intent}) for intent, texts in OTHER.items() for text in texts]
    return TrainingData(examples, responses=RESPONSES)


@pytest.fixture
def storage(tmp_path: Path) -> LocalModelStorage:
    (tmp_path / "storage").mkdir()
    return LocalModelStorage(tmp_path / "storage")


def _context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test")


def _trained(storage: LocalModelStorage) -> tuple[LinearResponseSelector, Resource]:
    resource = Resource("linear_faq")
    component = LinearResponseSelector.create({"retrieval_intent": "faq"}, storage, resource, _context())
    component.train(_training_data())
    return component, resource


def _selected(component: LinearResponseSelector, text: str) -> dict:
    message = Message(data={TEXT: text})
    component.process([message])
    return message.as_dict_nlu()["response_selector"]


def test_picks_the_answer_and_fills_the_message_as_rasas_response_selector_does(storage) -> None:
    """`utter_faq` reads `utter_action`; Rasa's processor reads `intent_response_key` and
    `all_retrieval_intents` to name the full retrieval intent."""
    component, _ = _trained(storage)
    selected = _selected(component, "hacen envios a tijuana?")
    assert selected["all_retrieval_intents"] == ["faq"]
    response = selected["faq"]["response"]
    assert response["intent_response_key"] == "faq/shipping"
    assert response["utter_action"] == "utter_faq/shipping"
    assert response["responses"] == RESPONSES["utter_faq/shipping"]
    ranking = selected["faq"]["ranking"]
    assert ranking[0]["intent_response_key"] == "faq/shipping"
    assert ranking[0]["confidence"] == response["confidence"]
    confidences = [r["confidence"] for r in ranking]
    assert confidences == sorted(confidences, reverse=True) and sum(confidences) == pytest.approx(1.0)
    assert _selected(component, "what time do you close on saturday")["faq"]["response"]["utter_action"] \
        == "utter_faq/business_hours"


def test_only_the_retrieval_intents_examples_become_answers(storage) -> None:
    component, _ = _trained(storage)
    ranking = _selected(component, "hola")["faq"]["ranking"]
    assert {r["intent_response_key"] for r in ranking} == set(FAQ)


def test_a_loaded_model_gives_the_same_answers_with_their_responses(storage) -> None:
    component, resource = _trained(storage)
    loaded = LinearResponseSelector.load({"retrieval_intent": "faq"}, storage, resource, _context())
    for text in ("necesito factura", "do you deliver to cancun", "abren el domingo?"):
        assert _selected(loaded, text) == _selected(component, text)


def test_without_faq_examples_it_leaves_messages_alone(storage) -> None:
    resource = Resource("no_faq")
    component = LinearResponseSelector.create({}, storage, resource, _context())
    component.train(TrainingData([Message(data={TEXT: t, INTENT: i}) for i, ts in OTHER.items() for t in ts]))
    loaded = LinearResponseSelector.load({}, storage, resource, _context())
    message = Message(data={TEXT: "hacen envíos?"})
    loaded.process([message])
    assert message.get("response_selector") is None
