"""What moves intent macro-F1 in cross-validation, and what does not: the shipped intent
classifier's features and model, varied one setting at a time, on the folds of bench.nlu_quality.

    .venv/bin/python -m bench.nlu_levers        # about 10 minutes on 2 cores

Only the intent classifier is trained (the rest of the pipeline does not change the intent), so
a variant costs seconds instead of a full NLU training per fold; the sentence embeddings that
SentenceEmbeddingFeaturizer would add are encoded once and reused by every fold and variant.
The "shipped" row is config.yml's classifier and reproduces `bench.nlu_quality --folds 5` for
our pipeline. It answers "would more tuning help?": on 2026-12-06 the linear SVM with cross-word
character n-grams stood 0.8 / 0.7 points (es / en) above the logistic regression shipped
before, and the sentence embedding added about 1.6 points in English (docs/understanding.md).
"""
from __future__ import annotations

import json
import os
from typing import Any, Callable, Optional

import numpy as np

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

from bench.nlu_quality import LANGS, ROOT, intent_of, load_examples, macro_f1, stratified_folds  # noqa: E402
from bot.nlu.intent_classifier import LinearIntentClassifier, shape  # noqa: E402

FALLBACK_THRESHOLD = 0.3  # config.yml's FallbackClassifier: below it the message gets the fallback

# shipped until the morning of 2026-12-06
LOGISTIC = {"model": "logistic", "C": 20.0, "span_ngrams": None, "sentence_features_weight": 0.0}
VARIANTS: dict[str, dict[str, Any]] = {
    "shipped (config.yml)": {},
    "without the sentence encoder": {"sentence_features_weight": 0.0},
    "sentence encoder at weight 0.5": {"sentence_features_weight": 0.5},
    "sentence encoder at weight 2": {"sentence_features_weight": 2.0},
    "SVM C=0.5": {"C": 0.5},
    "SVM C=2": {"C": 2.0},
    "SVM without the span n-grams": {"span_ngrams": None},
    "SVM, balanced class weights": {"class_weight": "balanced"},
    "SVM, words 1-3": {"word_ngrams": [1, 3]},
    "logistic regression C=20 (shipped before)": LOGISTIC,
    "logistic regression C=50": {**LOGISTIC, "C": 50.0},
    "logistic regression C=20 with the span n-grams": {**LOGISTIC, "span_ngrams": [3, 6]},
    "no fallback threshold": {"threshold": 0.0},
}


def _pipeline() -> list[dict[str, Any]]:
    import yaml

    return yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))["pipeline"]


def shipped_config() -> dict[str, Any]:
    """The intent classifier's settings in config.yml."""
    step = next(s for s in _pipeline() if s["name"] == "bot.nlu.intent_classifier.LinearIntentClassifier")
    return {k: v for k, v in step.items() if k != "name"}


def shipped_encoder() -> bool:
    """Whether config.yml puts the sentence embedding on the messages."""
    return any(s["name"].endswith("SentenceEmbeddingFeaturizer") for s in _pipeline())


def _embeddings(texts: list[str]) -> Optional[np.ndarray]:
    """What SentenceEmbeddingFeaturizer would put on these texts (None if config.yml has none)."""
    if not shipped_encoder():
        return None
    from bot.nlu.sentence_encoder import shared_encoder

    return shared_encoder().encode(texts, remember=True)


def _model(config: dict[str, Any]) -> LinearIntentClassifier:
    """The shipped classifier (config.yml), with `config` on top, with a fresh vectorizer and model."""
    settings = {**shipped_config(), **{k: v for k, v in config.items() if k != "threshold"}}
    component = LinearIntentClassifier(settings, None, None)  # type: ignore[arg-type]
    component._vectorizer, component._classifier = component._new_vectorizer(), component._new_classifier()
    return component


def cross_validate(config: dict[str, Any], folds: int = 5) -> dict[str, float]:
    """Intent macro-F1 per language over `folds` folds, as bench.nlu_quality splits them."""
    examples = {lang: load_examples(ROOT / "data" / "nlu" / f"{lang}.yml") for lang in LANGS}
    split = {lang: stratified_folds(examples[lang], folds) for lang in LANGS}
    threshold = config.get("threshold", FALLBACK_THRESHOLD)
    gold: dict[str, list[str]] = {lang: [] for lang in LANGS}
    predicted: dict[str, list[str]] = {lang: [] for lang in LANGS}
    for fold in range(folds):
        held = {lang: set(split[lang][fold]) for lang in LANGS}
        train = [ex for lang in LANGS for i, ex in enumerate(examples[lang]) if i not in held[lang]]
        model = _model(config)
        weighted = model._config["sentence_features_weight"]
        features = model.combine(model._vectorizer.fit_transform([shape(t) for t, _ in train]),
                                 _embeddings([t for t, _ in train]) if weighted else None)
        model._classifier.fit(features, np.array([intent_of(i) for _, i in train]))
        for lang in LANGS:
            items = [examples[lang][i] for i in sorted(held[lang])]
            rows = model.probabilities(model.combine(model._vectorizer.transform([shape(t) for t, _ in items]),
                                                     _embeddings([t for t, _ in items]) if weighted else None))
            predicted[lang] += [model._classifier.classes_[r.argmax()] if r.max() >= threshold else "nlu_fallback"
                                for r in rows]
            gold[lang] += [intent_of(i) for _, i in items]
    return {lang: round(macro_f1(gold[lang], predicted[lang]), 4) for lang in LANGS}


def main(report: Callable[[str], None] = print) -> dict[str, dict[str, float]]:
    results = {}
    for name, config in VARIANTS.items():
        results[name] = cross_validate(config)
        report(f"{name:40s} es {results[name]['es']:.4f}  en {results[name]['en']:.4f}")
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
