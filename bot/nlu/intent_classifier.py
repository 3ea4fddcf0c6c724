"""`LinearIntentClassifier`: intents from word and character n-grams with a linear model
(a linear SVM in config.yml; a logistic regression by default).

Why not DIET's intents: on our data (short, misspelt, bilingual chat messages, a few hundred
examples per intent) DIET's intent head generalised worse than a linear model over TF-IDF
n-grams, in cross-validation and on the independently written test sets, and it took most of
the training time (`python -m bench.nlu_quality`, figures in docs/understanding.md). Entities come from
the CRF and IdEntityNormaliser.

Accents are stripped and text lower-cased, so "envio" and "envío" are one feature; character
n-grams within words carry typos ("pedio", "pediddo") to the right intent. Digits and e-mail
addresses are reduced to their shape (`shape`) first: which order number someone typed says
nothing about the intent, but that it is a bare five-digit number does. Character n-grams
across words (`span_ngrams`) add phrases such as "your store" or "u guys" that tell a question
about us from the same question about anyone else.
"""
from __future__ import annotations

import json
import logging
import re
import unicodedata
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Type

import numpy as np
import scipy.sparse

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

MODEL_FILE = "linear_intent.skops"
# What the persisted classifier may contain beyond what skops trusts by default: nothing.
_TRUSTED: set = set()
# The vectorizers' vocabularies (terms in column order) and IDF weights, outside the skops file:
# skops wrote the 270,000-term vocabularies in 10 s into 170 MB, JSON and NumPy in under a second.
VOCABULARY_FILE = "linear_intent_vocabulary.json"
IDF_FILE = "linear_intent_idf.npz"


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_DIGIT = re.compile(r"[0-9]")


def shape(text: str) -> str:
    """The text with every digit as 0 and every e-mail address as one token."""
    return _DIGIT.sub("0", _EMAIL.sub(" emailaddress ", text))


def punctuation_only(text: str) -> bool:
    """True for text made of punctuation and spaces alone ("?", "...", "¿¡!!"); emoji are not
    punctuation (a thumbs-up answers a question)."""
    return bool(text.strip()) and all(ch.isspace() or unicodedata.category(ch).startswith("P") for ch in text)


def _skops_io() -> Any:
    """skops.io, imported without the side effect of its import: the root logger set to WARNING,
    which silenced the server's own INFO lines ("Rasa server is up and running") once a model
    with this component had loaded."""
    root = logging.getLogger()
    level = root.level
    import skops.io

    root.setLevel(level)
    return skops.io


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(GraphComponent, IntentClassifier):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "model": "logistic",  # or "svm": a linear SVM, its margins turned into confidences
            "C": 20.0,
            "softmax_scale": 4.0,  # svm only: confidences = softmax(scale * margins)
            "word_ngrams": [1, 2],
            "char_ngrams": [1, 5],
            # Character n-grams across word boundaries ("r store", "u guys"), seen at least twice;
            # None leaves them out.
            "span_ngrams": None,
            # Dense sentence features on the message (SentenceEmbeddingFeaturizer) are appended to
            # the n-grams, scaled by this weight; 0 ignores them.
            "sentence_features_weight": 1.0,
            "ranking_length": LABEL_RANKING_LENGTH,
            "random_seed": 1,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn", "skops"]

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 vectorizer: Any = None, classifier: Any = None, dense_columns: int = 0) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._vectorizer = vectorizer
        self._classifier = classifier
        # How many dense sentence-feature columns the classifier was trained with.
        self._dense_columns = dense_columns

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "LinearIntentClassifier":
        return cls(config, model_storage, resource)

    def _new_vectorizer(self) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import FeatureUnion

        word = TfidfVectorizer(analyzer="word", ngram_range=tuple(self._config["word_ngrams"]),
                               strip_accents="unicode", lowercase=True, sublinear_tf=True,
                               token_pattern=r"(?u)\b\w+\b")
        char = TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(self._config["char_ngrams"]),
                               strip_accents="unicode", lowercase=True, sublinear_tf=True)
        parts = [("word", word), ("char", char)]
        if self._config["span_ngrams"]:
            parts.append(("span", TfidfVectorizer(analyzer="char", ngram_range=tuple(self._config["span_ngrams"]),
                                                  strip_accents="unicode", lowercase=True, sublinear_tf=True,
                                                  min_df=2)))
        return FeatureUnion(parts)

    def _matrix(self, messages: List[Message], fit: bool = False) -> scipy.sparse.csr_matrix:
        texts = [shape(message.get(TEXT) or "") for message in messages]
        grams = self._vectorizer.fit_transform(texts) if fit else self._vectorizer.transform(texts)
        dense = self._sentence_features(messages) if self._config["sentence_features_weight"] else None
        width = 0 if dense is None else dense.shape[1]
        if fit:
            self._dense_columns = width
        elif not width and self._dense_columns and not any(message.get(TEXT) for message in messages):
            dense = np.zeros((len(messages), self._dense_columns))  # no text, so no embedding either
        elif width != self._dense_columns:
            # Trained with (or without) the sentence featurizer and run without (or with) it.
            raise RuntimeError(f"{type(self).__name__} was trained on {self._dense_columns} dense sentence "
                               f"features; these messages carry {width}")
        return self.combine(grams, dense)

    def combine(self, grams: scipy.sparse.spmatrix, dense: Optional[np.ndarray]) -> scipy.sparse.csr_matrix:
        """The n-grams with the weighted dense sentence features (if any) as further columns."""
        if dense is None:
            return grams.tocsr()
        weighted = scipy.sparse.csr_matrix(self._config["sentence_features_weight"] * dense)
        return scipy.sparse.hstack([grams, weighted], format="csr")

    @staticmethod
    def _sentence_features(messages: List[Message]) -> Optional[np.ndarray]:
        """Dense sentence features of every message's text (zeros for a message without text),
        or None when no message has any."""
        rows: List[Optional[np.ndarray]] = []
        for message in messages:
            _, sentence = message.get_dense_features(TEXT)
            rows.append(None if sentence is None else np.asarray(sentence.features).reshape(-1))
        width = next((len(row) for row in rows if row is not None), 0)
        if not width:
            return None
        return np.vstack([np.zeros(width) if row is None else row for row in rows])

    def _new_classifier(self) -> Any:
        from sklearn.linear_model import LogisticRegression
        from sklearn.svm import LinearSVC

        if self._config["model"] == "svm":
            # One-vs-rest squared-hinge SVM: on 21,000 examples it held out 0.5 points more intent
            # macro-F1 than the logistic regression, and trains in a few seconds (docs/understanding.md).
            return LinearSVC(C=self._config["C"], random_state=self._config["random_seed"],
                             class_weight=self._config.get("class_weight"))
        # liblinear (one-vs-rest) trains in ~2 s here against ~30 s for multinomial lbfgs,
        # and scored as well in cross-validation.
        return LogisticRegression(C=self._config["C"], solver="liblinear", max_iter=1000,
                                  random_state=self._config["random_seed"],
                                  class_weight=self._config.get("class_weight"))

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get(INTENT) and m.get(TEXT)]
        if len({m.get(INTENT) for m in examples}) < 2:
            logger.debug("LinearIntentClassifier: fewer than two intents, nothing to train")
            return self._resource
        self._fit(examples, [m.get(INTENT) for m in examples])
        return self._resource

    def _fit(self, examples: List[Message], labels: List[Text]) -> None:
        """Fits a new vectorizer and classifier on `examples` and persists them."""
        self._vectorizer = self._new_vectorizer()
        features = self._matrix(examples, fit=True)
        self._classifier = self._new_classifier()
        self._classifier.fit(features, labels)
        self.persist()

    def process(self, messages: List[Message]) -> List[Message]:
        if self._classifier is None:
            return messages
        probabilities = self.probabilities(self._matrix(messages))
        names = self._classifier.classes_
        limit = self._config["ranking_length"]
        for message, row in zip(messages, probabilities):
            if punctuation_only(message.get(TEXT) or ""):
                # "?" or "..." says nothing about what the person wants; every FAQ ends in "?", so
                # the n-grams read it as one (a bare "?" got the shipping answer). No intent, no
                # confidence: the FallbackClassifier answers it.
                message.set(INTENT, {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}, add_to_output=True)
                message.set("intent_ranking", [], add_to_output=True)
                continue
            order = np.argsort(-row)
            ranking = [{INTENT_NAME_KEY: str(names[i]), PREDICTED_CONFIDENCE_KEY: float(row[i])} for i in order]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking[:limit] if limit > 0 else ranking, add_to_output=True)
        return messages

    def probabilities(self, features: scipy.sparse.csr_matrix) -> np.ndarray:
        """One row per message, one column per class, rows summing to 1.

        An SVM has margins, not probabilities: a softmax over the scaled margins ranks the
        classes as the SVM does and gives the FallbackClassifier a confidence to compare with
        its threshold (at scale 4, 0.3 sends about 1 % of held-out messages to the fallback).
        """
        if hasattr(self._classifier, "predict_proba"):
            return self._classifier.predict_proba(features)
        margins = self._classifier.decision_function(features)
        if margins.ndim == 1:  # two classes: one margin, for the second
            margins = np.column_stack([-margins, margins])
        scaled = self._config["softmax_scale"] * margins
        scaled -= scaled.max(axis=1, keepdims=True)
        exp = np.exp(scaled)
        return exp / exp.sum(axis=1, keepdims=True)

    def persist(self) -> None:
        sio = _skops_io()

        with self._model_storage.write_to(self._resource) as directory:
            sio.dump({"classifier": self._classifier, "dense_columns": self._dense_columns}, directory / MODEL_FILE)
            parts = dict(self._vectorizer.transformer_list)
            terms = {name: sorted(part.vocabulary_, key=part.vocabulary_.__getitem__) for name, part in parts.items()}
            (directory / VOCABULARY_FILE).write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
            np.savez(directory / IDF_FILE, **{name: part.idf_ for name, part in parts.items()})

    def _restored_vectorizer(self, directory: Path) -> Any:
        """The fitted vectorizer, rebuilt from the config and the persisted vocabularies and weights."""
        terms = json.loads((directory / VOCABULARY_FILE).read_text(encoding="utf-8"))
        with np.load(directory / IDF_FILE, allow_pickle=False) as idf:
            vectorizer = self._new_vectorizer()
            for name, part in vectorizer.transformer_list:
                part.vocabulary_ = {term: column for column, term in enumerate(terms[name])}
                part.idf_ = idf[name]
        return vectorizer

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "LinearIntentClassifier":
        sio = _skops_io()

        try:
            with model_storage.read_from(resource) as directory:
                path = directory / MODEL_FILE
                untrusted = set(sio.get_untrusted_types(file=path)) - _TRUSTED
                if untrusted:
                    # A model file we did not write: refuse it rather than unpickle it.
                    raise RuntimeError(f"unexpected types in {path.name}: {sorted(untrusted)}")
                saved = sio.load(path, trusted=sorted(_TRUSTED))
                empty = cls(config, model_storage, resource)
                vectorizer = empty._restored_vectorizer(directory)
        except ValueError:  # nothing was trained (no intents in the data)
            logger.debug("LinearIntentClassifier: no trained model in the model storage")
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, vectorizer, saved["classifier"],
                   dense_columns=saved["dense_columns"])
