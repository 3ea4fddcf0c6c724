"""bench.nlu_levers varies the shipped intent classifier, so its baseline row must be that classifier."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bench.nlu_levers import VARIANTS, _model, shipped_config
from bot.nlu.intent_classifier import LinearIntentClassifier, shape

EXAMPLES = [
    ("hola", "greet"), ("buenos días", "greet"), ("hello there", "greet"),
    ("dónde está mi pedido PED-10234", "check_order_status"), ("where is my order", "check_order_status"),
    ("ya salió mi pedido?", "check_order_status"), ("PED-10235", "inform"), ("ana@example.com", "inform"),
    ("tck 2050", "inform"),
]
PROBES = ["holaa buenas", "where's my order 10299", "mi correo es luis@example.mx", "ok"]


def test_the_shipped_row_is_the_shipped_classifier(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    component = LinearIntentClassifier.create(shipped_config(), storage, Resource("linear"),
                                              ExecutionContext(GraphSchema({}), "t"))
    component.train(TrainingData([Message(data={TEXT: t, INTENT: i}) for t, i in EXAMPLES]))
    shipped = component.probabilities(component._vectorizer.transform([shape(p) for p in PROBES]))

    replica = _model(VARIANTS["shipped (config.yml)"])
    replica._classifier.fit(replica._vectorizer.fit_transform([shape(t) for t, _ in EXAMPLES]),
                            np.array([i for _, i in EXAMPLES]))
    predicted = replica.probabilities(replica._vectorizer.transform([shape(p) for p in PROBES]))

    assert list(replica._classifier.classes_) == list(component._classifier.classes_)
    np.testing.assert_allclose(predicted, shipped)


def test_shipped_config_is_config_ymls_intent_classifier() -> None:
    assert shipped_config()["model"] == "svm"


def test_each_variant_reaches_the_model() -> None:
    assert _model(VARIANTS["SVM C=2"])._classifier.C == 2.0
    assert _model(VARIANTS["SVM, balanced class weights"])._classifier.class_weight == "balanced"
    logistic = _model(VARIANTS["logistic regression C=50"])
    assert type(logistic._classifier).__name__ == "LogisticRegression" and logistic._classifier.C == 50.0
    assert len(_model(VARIANTS["SVM without the span n-grams"])._vectorizer.transformer_list) == 2
    words, chars, span = (part for _, part in _model(VARIANTS["SVM, words 1-3"])._vectorizer.transformer_list)
    assert words.ngram_range == (1, 3) and chars.ngram_range == (1, 5) and span.ngram_range == (3, 6)
