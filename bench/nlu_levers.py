"""What moves intent macro-F1 in cross-validation, and what does not: the shipped intent
classifier's features and model, varied one setting at a time, on the folds of bench.nlu_quality.

    .venv/bin/python -m bench.nlu_levers        # about 3 minutes on 2 cores

Only the intent classifier is trained (the rest of the pipeline does not change the intent), so
a variant costs seconds instead of a full NLU training per fold; the "shipped" row reproduces
`bench.nlu_quality --folds 5` for our pipeline. It answers "would more tuning reach 0.95?":
on our data every lexical variant lands within half a point of the shipped one.
"""
from __future__ import annotations

import json
import os
from typing import Any, Callable

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

from bench.nlu_quality import LANGS, ROOT, intent_of, load_examples, macro_f1, stratified_folds  # noqa: E402
from bot.nlu.intent_classifier import LinearIntentClassifier, shape  # noqa: E402

FALLBACK_THRESHOLD = 0.3  # config.yml's FallbackClassifier: below it the message gets the fallback

VARIANTS: dict[str, dict[str, Any]] = {
    "shipped (C=20, words 1-2, chars 1-5)": {},
    "C=5": {"C": 5.0},
    "C=100": {"C": 100.0},
    "balanced class weights": {"class_weight": "balanced"},
    "chars 2-5": {"char_ngrams": [2, 5]},
    "chars 1-6": {"char_ngrams": [1, 6]},
    "words 1-3": {"word_ngrams": [1, 3]},
    "no fallback threshold": {"threshold": 0.0},
}


def _model(config: dict[str, Any]) -> tuple[Any, Any]:
    """The shipped classifier's vectorizer and logistic regression, with `config` on top of its defaults."""
    component = LinearIntentClassifier({k: v for k, v in config.items() if k != "threshold"}, None, None)  # type: ignore[arg-type]
    return component._new_vectorizer(), component._new_classifier()


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
        vectorizer, classifier = _model(config)
        classifier.fit(vectorizer.fit_transform([shape(t) for t, _ in train]), [intent_of(i) for _, i in train])
        for lang in LANGS:
            items = [examples[lang][i] for i in sorted(held[lang])]
            rows = classifier.predict_proba(vectorizer.transform([shape(t) for t, _ in items]))
            predicted[lang] += [classifier.classes_[r.argmax()] if r.max() >= threshold else "nlu_fallback" for r in rows]
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
