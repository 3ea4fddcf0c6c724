"""SentenceEmbeddingFeaturizer in a Rasa pipeline, and the intent classifier reading what it adds."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.intent_classifier import LinearIntentClassifier
from bot.nlu.sentence_encoder import DIMENSION
from bot.nlu.sentence_featurizer import SentenceEmbeddingFeaturizer

# Training phrasings and test phrasings share no word: only the meaning carries over.
EXAMPLES = {
    "affirm": ["yes", "sure", "of course", "absolutely", "yeah", "definitely"],
    "thank": ["thanks", "thank you", "many thanks", "thx", "much appreciated", "cheers"],
    "deny": ["no", "nope", "not at all", "never", "no way", "negative"],
}


def _context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "featurizer")


@pytest.fixture(scope="module")
def featurizer() -> SentenceEmbeddingFeaturizer:
    return SentenceEmbeddingFeaturizer.create({}, None, Resource("featurizer"), _context())  # type: ignore[arg-type]


def _messages(*texts: str) -> list[Message]:
    return [Message(data={TEXT: text}) for text in texts]


def test_each_text_gets_one_dense_sentence_feature(featurizer: SentenceEmbeddingFeaturizer) -> None:
    messages = featurizer.process(_messages("where is my order", "") )
    sequence, sentence = messages[0].get_dense_features(TEXT)
    assert sequence is None and sentence.features.shape == (1, DIMENSION)
    assert messages[1].get_dense_features(TEXT) == (None, None)  # no text, nothing to encode


def test_training_data_is_featurized_like_a_message(featurizer: SentenceEmbeddingFeaturizer) -> None:
    data = featurizer.process_training_data(TrainingData([Message(data={TEXT: "sure", INTENT: "affirm"})]))
    trained = data.training_examples[0].get_dense_features(TEXT)[1].features
    served = featurizer.process(_messages("sure"))[0].get_dense_features(TEXT)[1].features
    assert np.allclose(trained, served, atol=1e-5)


def _classifier(tmp_path: Path, featurizer: SentenceEmbeddingFeaturizer, weight: float) -> LinearIntentClassifier:
    (tmp_path / str(weight)).mkdir()
    storage = LocalModelStorage(tmp_path / str(weight))
    data = TrainingData([Message(data={TEXT: t, INTENT: i}) for i, texts in EXAMPLES.items() for t in texts])
    featurizer.process_training_data(data)
    config = {"model": "svm", "sentence_features_weight": weight}
    component = LinearIntentClassifier.create(config, storage, Resource("intent"), _context())
    component.train(data)
    return LinearIntentClassifier.load(config, storage, Resource("intent"), _context())


def _intents(component: LinearIntentClassifier, featurizer: SentenceEmbeddingFeaturizer, texts: list[str]) -> list[str]:
    messages = component.process(featurizer.process(_messages(*texts)))
    return [m.get(INTENT)["name"] for m in messages]


def test_the_classifier_reads_the_embedding_beside_the_ngrams(
        tmp_path: Path, featurizer: SentenceEmbeddingFeaturizer) -> None:
    """What the embedding is worth is measured on the real data (bench.nlu_levers); here: it is
    read, it is persisted with the model, and weight 0 leaves it out."""
    component = _classifier(tmp_path, featurizer, 1.0)
    assert component._dense_columns == DIMENSION
    own = component.process(featurizer.process(_messages("yep")))[0]
    other = featurizer.process(_messages("no way"))[0]
    borrowed = _messages("yep")[0]
    borrowed.add_features(other.get_dense_features(TEXT)[1])  # "yep" with the meaning of "no way"
    component.process([borrowed])
    assert _confidence(borrowed, "affirm") < _confidence(own, "affirm") - 0.01
    assert _confidence(borrowed, "deny") > _confidence(own, "deny") + 0.01

    plain = _classifier(tmp_path, featurizer, 0.0)
    assert plain._dense_columns == 0
    assert plain.process(_messages("yes please"))[0].get(INTENT)["name"] == "affirm"  # no featurizer needed


def _confidence(message: Message, intent: str) -> float:
    return next(r["confidence"] for r in message.get("intent_ranking") if r["name"] == intent)


def test_a_model_trained_with_the_embedding_refuses_messages_without_it(
        tmp_path: Path, featurizer: SentenceEmbeddingFeaturizer) -> None:
    """A pipeline that lost its featurizer would otherwise classify on misaligned columns."""
    component = _classifier(tmp_path, featurizer, 1.0)
    with pytest.raises(RuntimeError, match="dense sentence features"):
        component.process(_messages("sure"))
    empty = component.process(_messages(""))[0]  # no text at all: no embedding to expect
    assert empty.get(INTENT)["name"] in EXAMPLES


def test_the_faq_selector_trained_with_the_embedding_loads_and_answers(
        tmp_path: Path, featurizer: SentenceEmbeddingFeaturizer) -> None:
    from bot.nlu.response_selector import LinearResponseSelector

    storage = LocalModelStorage(tmp_path)
    questions = {"faq/hours": ["what time do you open", "opening hours?", "when are you open"],
                 "faq/payment": ["do you take cards", "payment methods?", "can i pay by transfer"]}
    data = TrainingData([Message(data={TEXT: t, INTENT: "faq", "intent_response_key": key})
                         for key, texts in questions.items() for t in texts])
    featurizer.process_training_data(data)
    LinearResponseSelector.create({}, storage, Resource("faq"), _context()).train(data)
    loaded = LinearResponseSelector.load({}, storage, Resource("faq"), _context())
    assert loaded._dense_columns == DIMENSION
    message = loaded.process(featurizer.process(_messages("are you open on saturday")))[0]
    assert message.get("response_selector")["faq"]["response"]["intent_response_key"] == "faq/hours"
