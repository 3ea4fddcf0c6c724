"""Intent quality on data the model has never seen, per language, against a simple baseline.

    .venv/bin/python -m bench.nlu_quality [--folds K] [--out bench/results/nlu.json]

With K=1 (default) one stratified 80/20 split per language; with K>1, K-fold cross-validation.
On each fold our pipeline (config.yml, NLU part, trained for real) and a TF-IDF + logistic
regression baseline learn from the same training part and are scored on the same held-out part.
The independently written sets tests/nlu/unseen_{es,en}.yml and the blind sets
tests/nlu/blind_{es,en}.yml are scored by both systems trained on all of data/nlu, as the shipped
model is: they measure the model users get on messages nobody wrote for training. The blind
sets were written by people who never saw the training data, and no training example was
written with them in view; for them we also count how often our FAQ
selector picks the right answer, and how many of their problem statements (`report_problem`) start
the ticket flow (read as `report_problem` or `open_ticket`). Intents are compared at the level Rasa classifies them (`faq/*`
counts as `faq`); a message below the fallback threshold counts as wrong. The most frequent
confusions of each system go into the JSON, to show where to work next.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
ROOT = Path(__file__).resolve().parent.parent
LANGS = ("es", "en")


def load_examples(path: Path) -> list[tuple[str, str]]:
    """(text, intent) pairs, entity annotations stripped; retrieval intents folded into `faq`."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [(m.get("text"), m.get("intent_response_key") or m.get("intent")) for m in data.intent_examples]


def stratified_folds(examples: list[tuple[str, str]], k: int, seed: int = 7) -> list[list[int]]:
    by_intent: dict[str, list[int]] = defaultdict(list)
    for i, (_, intent) in enumerate(examples):
        by_intent[intent].append(i)
    rng = random.Random(seed)
    folds: list[list[int]] = [[] for _ in range(max(k, 5) if k == 1 else k)]
    for indices in by_intent.values():
        rng.shuffle(indices)
        for n, index in enumerate(indices):
            folds[n % len(folds)].append(index)
    return folds


def write_nlu(examples: list[tuple[str, str]], path: Path) -> None:
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter

    messages = []
    for text, intent in examples:
        base, _, sub = intent.partition("/")
        data = {"text": text, "intent": base}
        if sub:
            data["intent_response_key"] = intent
        messages.append(Message(data=data))
    RasaYAMLWriter().dump(path, TrainingData(messages))


def macro_f1(gold: list[str], predicted: list[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(gold, predicted, average="macro", labels=sorted(set(gold)), zero_division=0))


def intent_of(label: str) -> str:
    return label.split("/")[0]


CONFIG = ROOT / "config.yml"


def train_ours(train: list[tuple[str, str]], workdir: Path) -> Path:
    from rasa.model_training import train_nlu

    nlu_dir = workdir / "data"
    nlu_dir.mkdir()
    write_nlu(train, nlu_dir / "nlu.yml")
    # Lookups and synonyms are part of our pipeline's knowledge, not of the examples.
    (nlu_dir / "synonyms.yml").write_text((ROOT / "data" / "nlu" / "synonyms.yml").read_text())
    (nlu_dir / "faq_responses.yml").write_text((ROOT / "data" / "faq_responses.yml").read_text())
    model = train_nlu(str(CONFIG), str(nlu_dir), str(workdir), fixed_model_name="fold")
    return Path(model)


def parse_ours(model: Path, texts: list[str]) -> list[tuple[str, str]]:
    """(intent, FAQ answer key or "") of each text, as the trained model parses it."""
    from rasa.core.agent import Agent

    agent = _agents.get(model) or _agents.setdefault(model, Agent.load(str(model)))
    loop = asyncio.new_event_loop()
    try:
        out = []
        for text in texts:
            parsed = loop.run_until_complete(agent.parse_message(text))
            name = (parsed.get("intent") or {}).get("name") or "nlu_fallback"
            selected = ((parsed.get("response_selector") or {}).get("faq") or {}).get("response") or {}
            out.append((name, selected.get("intent_response_key") or ""))
        return out
    finally:
        loop.close()


_agents: dict = {}


def fit_baseline(train: list[tuple[str, str]]) -> "Pipeline":
    """TF-IDF word and character n-grams + logistic regression: the margin ours must keep over it."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True),
    )
    model = make_pipeline(features, LogisticRegression(max_iter=2000, C=10))
    model.fit([t for t, _ in train], [intent_of(i) for _, i in train])
    return model


def fit_baseline_cached(train: list[tuple[str, str]], cache_dir: Path) -> "Pipeline":
    """fit_baseline, kept on disk per training data: fitting takes ~100 s and the data rarely changes
    between two runs of the quality gate."""
    import hashlib

    import joblib
    import sklearn

    digest = hashlib.sha256(json.dumps([sklearn.__version__, train], ensure_ascii=False).encode()).hexdigest()
    path = cache_dir / f"nlu-baseline-{digest[:16]}.joblib"
    if path.exists():
        return joblib.load(path)
    model = fit_baseline(train)
    cache_dir.mkdir(parents=True, exist_ok=True)
    for stale in cache_dir.glob("nlu-baseline-*.joblib"):
        stale.unlink()
    joblib.dump(model, path)
    return model


# With no form active, these intents open a ticket (data/rules.yml).
TICKET_FLOW_INTENTS = ("report_problem", "open_ticket")


def problems_to_tickets(items: list[tuple[str, str]], predicted: list[str]) -> list[int]:
    """[started the ticket flow, problem statements]: a complaint stated as a fact must open a ticket."""
    outcomes = [got in TICKET_FLOW_INTENTS for (_, label), got in zip(items, predicted) if label == "report_problem"]
    return [sum(outcomes), len(outcomes)]


def _score(system: str, name: str, items: list[tuple[str, str]], model: Path, baseline_model: "Pipeline",
           gold: dict[str, list[str]], pred: dict[str, dict[str, list[str]]], confusions: dict[str, Counter],
           faq_right: dict[str, list[int]], ticket_flow: dict[str, list[int]]) -> None:
    texts = [t for t, _ in items]
    if system == "ours":
        parsed = parse_ours(model, texts)
        predicted = [intent for intent, _ in parsed]
        if name.startswith("blind_"):
            # The right FAQ answer: the message is an FAQ, read as one, and the selector picks its answer.
            asked = [(label, answer) for (_, label), (_, answer) in zip(items, parsed) if label.startswith("faq/")]
            faq_right[name] = [sum(label == answer for label, answer in asked), len(asked)]
            ticket_flow[name] = problems_to_tickets(items, predicted)
    else:
        predicted = list(baseline_model.predict(texts))
    expected = [intent_of(i) for _, i in items]
    if system == "ours":
        gold[name] += expected
    pred[system][name] += predicted
    for want, got in zip(expected, predicted):
        if want != got:
            confusions[system][f"{name}: {want} -> {got}"] += 1


def load_training() -> dict[str, list[tuple[str, str]]]:
    """Per language, the training examples as (text, intent), as the shipped model learns them."""
    return {lang: load_examples(ROOT / "data" / "nlu" / f"{lang}.yml") for lang in LANGS}


def load_held_out(kinds: tuple[str, ...] = ("unseen", "blind")) -> dict[str, list[tuple[str, str]]]:
    """Held-out sets by name (`blind_es`, ...): messages no training example was written from."""
    return {f"{kind}_{lang}": load_examples(ROOT / "tests" / "nlu" / f"{kind}_{lang}.yml")
            for kind in kinds for lang in LANGS}


def score_held_out(model: Path, train: list[tuple[str, str]], sets: dict[str, list[tuple[str, str]]],
                   cache_dir: Path | None = None) -> dict:
    """A trained model (the shipped one, say) and the baseline trained on `train`, scored on held-out
    sets: macro-F1 of each per set, and on the blind sets the right FAQ answers and the problem
    statements that start the ticket flow. The quality gate in tests/nlu reads this; with cache_dir the
    fitted baseline is reused while the training data stays the same."""
    gold: dict[str, list[str]] = defaultdict(list)
    pred: dict[str, dict[str, list[str]]] = {"ours": defaultdict(list), "baseline": defaultdict(list)}
    confusions: dict[str, Counter] = {"ours": Counter(), "baseline": Counter()}
    faq_right: dict[str, list[int]] = {}
    ticket_flow: dict[str, list[int]] = {}
    baseline_model = fit_baseline_cached(train, cache_dir) if cache_dir else fit_baseline(train)
    for name, items in sets.items():
        for system in ("ours", "baseline"):
            _score(system, name, items, model, baseline_model, gold, pred, confusions, faq_right, ticket_flow)
    return {
        "f1": {system: {name: macro_f1(gold[name], pred[system][name]) for name in sets} for system in pred},
        "faq_answer_right": faq_right,
        "problems_to_tickets": ticket_flow,
        "top_confusions": {system: dict(confusions[system].most_common(12)) for system in confusions},
    }


def evaluate(folds: int, out: Path) -> dict:
    examples = load_training()
    held_out_sets = load_held_out()
    split = {lang: stratified_folds(examples[lang], folds) for lang in LANGS}
    rounds = 1 if folds == 1 else folds
    gold: dict[str, list[str]] = defaultdict(list)
    pred: dict[str, dict[str, list[str]]] = {"ours": defaultdict(list), "baseline": defaultdict(list)}
    confusions: dict[str, Counter] = {"ours": Counter(), "baseline": Counter()}
    faq_right: dict[str, list[int]] = {}
    ticket_flow: dict[str, list[int]] = {}
    train_seconds = []
    # Rounds 0..rounds-1 are the held-out folds; the last round trains on everything for the unseen and blind sets.
    for fold in range(rounds + 1):
        final = fold == rounds
        if final:
            train = [ex for lang in LANGS for ex in examples[lang]]
            sets = held_out_sets
        else:
            held = {lang: set(split[lang][fold]) for lang in LANGS}
            train = [ex for lang in LANGS for i, ex in enumerate(examples[lang]) if i not in held[lang]]
            sets = {lang: [examples[lang][i] for i in sorted(held[lang])] for lang in LANGS}
        with tempfile.TemporaryDirectory() as tmp:
            started = time.monotonic()
            model = train_ours(train, Path(tmp))
            if not final:
                train_seconds.append(time.monotonic() - started)
            baseline_model = fit_baseline(train)
            for name, items in sets.items():
                for system in ("ours", "baseline"):
                    _score(system, name, items, model, baseline_model, gold, pred, confusions, faq_right, ticket_flow)
            _agents.pop(model, None)
        label = "all data (unseen and blind sets)" if final else f"fold {fold + 1}/{rounds}"
        print(f"{label} done", file=sys.stderr, flush=True)
    result: dict = {"folds": folds, "examples": {lang: len(examples[lang]) for lang in LANGS},
                    "unseen_examples": {lang: len(held_out_sets[f"unseen_{lang}"]) for lang in LANGS},
                    "blind_examples": {lang: len(held_out_sets[f"blind_{lang}"]) for lang in LANGS}}
    for system in ("ours", "baseline"):
        scores = {name: round(macro_f1(gold[name], pred[system][name]), 4) for name in gold}
        both = round(macro_f1(gold["es"] + gold["en"], pred[system]["es"] + pred[system]["en"]), 4)
        result[system] = {
            "f1": both,
            "f1_es": scores["es"],
            "f1_en": scores["en"],
            "f1_unseen_es": scores["unseen_es"],
            "f1_unseen_en": scores["unseen_en"],
            "f1_blind_es": scores["blind_es"],
            "f1_blind_en": scores["blind_en"],
            "top_confusions": dict(confusions[system].most_common(12)),
        }
    result["ours"]["faq_answer_right_blind"] = {name.split("_")[1]: right for name, right in sorted(faq_right.items())}
    # Target: >= 95 % of the blind sets' problem statements start the ticket flow.
    result["ours"]["problems_to_tickets_blind"] = {name.split("_")[1]: n for name, n in sorted(ticket_flow.items())}
    result["nlu_train_seconds_per_fold"] = round(sum(train_seconds) / len(train_seconds), 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "nlu.json")
    parser.add_argument("--config", type=Path, default=CONFIG, help="another pipeline to compare (e.g. bench/configs/with_spacy.yml)")
    args = parser.parse_args()
    globals()["CONFIG"] = args.config.resolve()
    print(json.dumps(evaluate(args.folds, args.out), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
