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

from bench.nlu_levers import VARIANTS, _model
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
    component = LinearIntentClassifier.create({}, storage, Resource("linear"), ExecutionContext(GraphSchema({}), "t"))
    component.train(TrainingData([Message(data={TEXT: t, INTENT: i}) for t, i in EXAMPLES]))
    shipped = component._classifier.predict_proba(component._vectorizer.transform([shape(p) for p in PROBES]))

    vectorizer, classifier = _model(VARIANTS["shipped (C=20, words 1-2, chars 1-5)"])
    classifier.fit(vectorizer.fit_transform([shape(t) for t, _ in EXAMPLES]), [i for _, i in EXAMPLES])
    replica = classifier.predict_proba(vectorizer.transform([shape(p) for p in PROBES]))

    assert list(classifier.classes_) == list(component._classifier.classes_)
    np.testing.assert_allclose(replica, shipped)


def test_each_variant_reaches_the_model() -> None:
    assert _model(VARIANTS["C=100"])[1].C == 100.0
    assert _model(VARIANTS["balanced class weights"])[1].class_weight == "balanced"
    words, chars = (part for _, part in _model(VARIANTS["words 1-3"])[0].transformer_list)
    assert words.ngram_range == (1, 3) and chars.ngram_range == (1, 5)
