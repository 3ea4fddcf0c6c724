"""What spaCy's language model buys our pipeline: config.yml against the same pipeline with it.

    .venv/bin/python -m bench.spacy_value [--out bench/results/spacy_value.json]

Both pipelines are trained for real on all of data/ (NLU part) and scored on the
independently written unseen sets, per language: intent macro-F1 (as in nlu_quality), entity
F1 (an entity counts when its type and canonical value match an annotation; values of both
sides go through the same canonicalisation, bot.nlu.entities' normalisers), and how often the
FAQ selector picks the right answer for the FAQ questions. The intent classifier and, since
2026-12-02, the FAQ selector read the raw text, so spaCy can only change the entities: its
tokens feed the CRF, its place names the branch finder. (The spaCy EntityRuler inside
IdEntityNormaliser runs in both.)
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
ROOT = Path(__file__).resolve().parent.parent
CONFIGS = {"shipped": ROOT / "config.yml", "with_spacy": ROOT / "bench" / "configs" / "with_spacy.yml"}
LANGS = ("es", "en")


def _canonical(entity: str, value: Any) -> Any:
    from bot.nlu.entities import _NORMALISERS

    normalise = _NORMALISERS.get(entity)
    canonical = normalise(value) if normalise else value
    return str(canonical if canonical is not None else value).strip().lower()


def _unseen(lang: str) -> list[dict[str, Any]]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(ROOT / "tests" / "nlu" / f"unseen_{lang}.yml"))
    return [{"text": m.get("text"), "label": m.get("intent_response_key") or m.get("intent"),
             "entities": {(e["entity"], _canonical(e["entity"], e.get("value", ""))) for e in m.get("entities") or []}}
            for m in data.intent_examples]


def _train(config: Path, workdir: Path) -> Path:
    from rasa.model_training import train_nlu

    data = workdir / "data"
    data.mkdir()
    for path in [*(ROOT / "data" / "nlu").glob("*.yml"), ROOT / "data" / "faq_responses.yml"]:
        (data / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    # Not timed: the first training of a process also pays for importing TensorFlow; the
    # training-time figures come from `make bench` and the training log.
    return Path(train_nlu(str(config), str(data), str(workdir), fixed_model_name="nlu"))


def _score(model: Path, items: list[dict[str, Any]]) -> dict[str, float]:
    from rasa.core.agent import Agent

    from bench.nlu_quality import intent_of, macro_f1

    agent = Agent.load(str(model))
    loop = asyncio.new_event_loop()
    gold, predicted, hits, found, wanted, right, faqs = [], [], 0, 0, 0, 0, 0
    try:
        for item in items:
            parsed = loop.run_until_complete(agent.parse_message(item["text"]))
            gold.append(intent_of(item["label"]))
            predicted.append((parsed.get("intent") or {}).get("name") or "nlu_fallback")
            got = {(e["entity"], _canonical(e["entity"], e.get("value", ""))) for e in parsed.get("entities") or []}
            hits += len(got & item["entities"])
            found += len(got)
            wanted += len(item["entities"])
            if item["label"].startswith("faq/"):
                faqs += 1
                answer = ((parsed.get("response_selector") or {}).get("faq") or {}).get("response") or {}
                right += answer.get("intent_response_key") == item["label"]
    finally:
        loop.close()
    precision = hits / found if found else 0.0
    recall = hits / wanted if wanted else 0.0
    return {
        "intent_f1": round(macro_f1(gold, predicted), 4),
        "entity_f1": round(2 * precision * recall / (precision + recall), 4) if hits else 0.0,
        "entity_precision": round(precision, 4),
        "entity_recall": round(recall, 4),
        "entities_annotated": wanted,
        "faq_answer_accuracy": round(right / faqs, 4) if faqs else 0.0,
        "faq_questions": faqs,
    }


def evaluate(out: Path) -> dict[str, Any]:
    sets = {lang: _unseen(lang) for lang in LANGS}
    result: dict[str, Any] = {}
    for name, config in CONFIGS.items():
        with tempfile.TemporaryDirectory() as tmp:
            model = _train(config, Path(tmp))
            result[name] = {lang: _score(model, sets[lang]) for lang in LANGS}
        print(f"{name} done", file=sys.stderr, flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "spacy_value.json")
    args = parser.parse_args()
    print(json.dumps(evaluate(args.out), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
