"""Hygiene checks for the NLU training data, the held-out test sets and the FAQ answers.

They guard what a training run cannot see: an intent silently dropped from one language, a
held-out example copied from training (which would inflate the scores), an entity value left
unannotated in one example and annotated in another (which teaches the extractor to miss it),
and an FAQ without its English answer.
"""
from __future__ import annotations

import difflib
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # runnable with a bare `pytest`, without an installed package
    sys.path.insert(0, str(ROOT))

from bot.demo_data import BRANCHES, PRODUCTS  # noqa: E402
TRAIN_FILES = {"es": ROOT / "data/nlu/es.yml", "en": ROOT / "data/nlu/en.yml"}
UNSEEN_FILES = {"es": ROOT / "tests/nlu/unseen_es.yml", "en": ROOT / "tests/nlu/unseen_en.yml"}
# Written without sight of the training data or the unseen sets; intents only, no entity annotations.
BLIND_FILES = {"es": ROOT / "tests/nlu/blind_es.yml", "en": ROOT / "tests/nlu/blind_en.yml"}
HELD_OUT_FILES = {f"{kind}_{lang}": path for kind, files in (("unseen", UNSEEN_FILES), ("blind", BLIND_FILES))
                  for lang, path in files.items()}
SYNONYMS_FILE = ROOT / "data/nlu/synonyms.yml"
FAQ_FILE = ROOT / "data/faq_responses.yml"

FAQ_SUBINTENTS = [
    "business_hours", "shipping", "payment_methods", "returns", "warranty", "branches",
    "invoice", "become_distributor", "credit_terms", "quotes", "tech_support", "order_cutoff", "catalog",
]
MIN_COUNTS: dict[str, int] = {
    **{name: 45 for name in (
        "check_order_status", "open_ticket", "check_stock", "request_human",
        "check_ticket_status", "link_account",
    )},
    **{name: 25 for name in (
        "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "cancel", "out_of_scope",
    )},
    "inform": 60,
    "report_problem": 60,
    # Order notices: "ya no quiero avisos" / "send me notifications" (actions/notices.py).
    "stop_notices": 40,
    "start_notices": 40,
    **{f"faq/{sub}": 20 for sub in FAQ_SUBINTENTS},
}
CONTRACT_INTENTS = set(MIN_COUNTS)
ENTITIES = {"order_id", "ticket_id", "product", "branch", "quantity", "email"}
MIN_UNSEEN_PER_INTENT = 8
# The blind sets are scored per intent (`faq/*` as `faq`), and each FAQ topic appears in them.
MIN_BLIND_PER_INTENT = 10

# [text](entity) or [text]{"entity": ..., "value": ...}
ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<entity>[^)]+)\)|(?P<json>\{[^}]+\}))")


def _items(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]


def _block(text: str) -> list[str]:
    return [line.strip()[2:].strip() for line in text.splitlines() if line.strip().startswith("- ")]


def _examples(path: Path) -> dict[str, list[str]]:
    """Intent name -> its examples, as written (with annotations)."""
    result: dict[str, list[str]] = {}
    for item in _items(path):
        if "intent" in item:
            result.setdefault(item["intent"], []).extend(_block(item["examples"]))
    return result


def _annotations(example: str) -> list[tuple[str, str, str]]:
    """(text, entity, value) for each annotation in an example."""
    found = []
    for match in ANNOTATION.finditer(example):
        if match.group("entity"):
            found.append((match.group("text"), match.group("entity"), match.group("text")))
        else:
            spec = yaml.safe_load(match.group("json"))
            found.append((match.group("text"), spec["entity"], spec.get("value", match.group("text"))))
    return found


def _plain(example: str) -> str:
    return ANNOTATION.sub(lambda m: m.group("text"), example)


def _normalise(text: str) -> str:
    """Lowercase, no accents, no punctuation, single spaces: what 'the same sentence' means here."""
    text = unicodedata.normalize("NFKD", _plain(text).lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"[!-/:-@\[-`{-~¿¡…“”‘’]", " ", text)  # punctuation, but keep emoji
    return " ".join(text.split())


def _lookup(name: str) -> list[str]:
    for item in _items(SYNONYMS_FILE):
        if item.get("lookup") == name:
            return _block(item["examples"])
    raise AssertionError(f"lookup table {name!r} missing from {SYNONYMS_FILE.name}")


def _synonyms() -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in _items(SYNONYMS_FILE):
        if "synonym" in item:
            for alias in _block(item["examples"]):
                assert alias not in mapping, f"alias {alias!r} maps to two branches"
                mapping[alias] = item["synonym"]
    return mapping


@pytest.mark.parametrize("lang", sorted(TRAIN_FILES))
def test_training_data_covers_the_contract_with_minimum_counts(lang: str) -> None:
    examples = _examples(TRAIN_FILES[lang])
    assert set(examples) == CONTRACT_INTENTS
    short = {
        intent: len(set(examples[intent]))
        for intent, minimum in MIN_COUNTS.items()
        if len(set(examples[intent])) < minimum
    }
    assert not short, f"{lang}: intents below their minimum (distinct examples): {short}"


def test_no_example_is_listed_under_two_intents() -> None:
    owner: dict[str, str] = {}
    clashes = []
    for path in TRAIN_FILES.values():
        for intent, examples in _examples(path).items():
            for example in examples:
                key = _normalise(example)
                if key in owner and owner[key] != intent:
                    clashes.append((example, owner[key], intent))
                owner[key] = intent
    assert not clashes


@pytest.mark.parametrize("name", sorted(HELD_OUT_FILES))
def test_held_out_sets_cover_every_intent(name: str) -> None:
    examples = _examples(HELD_OUT_FILES[name])
    assert set(examples) == CONTRACT_INTENTS
    if name.startswith("blind"):
        counts: dict[str, set[str]] = {}
        for intent, texts in examples.items():
            counts.setdefault(intent.split("/")[0], set()).update(texts)
        short = {i: len(e) for i, e in counts.items() if len(e) < MIN_BLIND_PER_INTENT}
    else:
        short = {i: len(e) for i, e in examples.items() if len(set(e)) < MIN_UNSEEN_PER_INTENT}
    assert not short, f"{name}: held-out intents with too few examples: {short}"


def test_held_out_examples_never_repeat_training_examples() -> None:
    training = {
        _normalise(example)
        for path in TRAIN_FILES.values()
        for examples in _examples(path).values()
        for example in examples
    }
    copies = [
        (path.name, example)
        for path in HELD_OUT_FILES.values()
        for examples in _examples(path).values()
        for example in examples
        if _normalise(example) in training
    ]
    assert not copies, f"held-out examples that are in the training data: {copies}"


# What a near-twin hides behind: another e-mail, order or ticket number, or quantity.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ID = re.compile(r"(?i)\b(?:ped|tck)[- ]?\d+\b|#\d+\b")
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)?\b")  # standalone: "58A" and "c920" are product codes
NEAR_TWIN_SIMILARITY = 0.9
# SequenceMatcher's ratio is at most 2*min/(len_a+len_b), so a twin's length is within this factor.
_LENGTH_FACTOR = NEAR_TWIN_SIMILARITY / (2 - NEAR_TWIN_SIMILARITY)


def _masked(example: str) -> str:
    """Normalised, with e-mails, ids and numbers replaced by placeholders."""
    text = _EMAIL.sub(" zzemail ", _plain(example))
    text = _ID.sub(" zzid ", text)
    return _normalise(_NUMBER.sub(" zznum ", text))


# Characters counted one by one for the shared-character bound; the rest share one count (a looser bound).
_COUNTED = "abcdefghijklmnopqrstuvwxyz0123456789 "
_COLUMN = np.full(128, len(_COUNTED), dtype=np.intp)
_COLUMN[[ord(c) for c in _COUNTED]] = np.arange(len(_COUNTED))


def _char_counts(texts: list[str]) -> np.ndarray:
    """Per text, how often each counted character occurs (vectorised: this runs on every example)."""
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    columns = _COLUMN[np.minimum(codes, 127)]
    columns[codes > 127] = len(_COUNTED)
    rows = np.repeat(np.arange(len(texts)), [len(t) for t in texts])
    counts = np.zeros((len(texts), len(_COUNTED) + 1), dtype=np.int16)
    np.add.at(counts, (rows, columns), 1)
    return counts


def near_twins(training: list[str], held_out: list[str]) -> list[tuple[str, str]]:
    """(held-out, training) pairs that are the same message after masking: the same words in another
    order, or character similarity of at least 0.9. Candidates are narrowed by length and by the
    shared-character bound (difflib's quick_ratio, for all of them at once) before the real ratio."""
    train = sorted({_masked(t) for t in training}, key=len)
    by_words = {tuple(sorted(t.split())): t for t in train}
    lengths = np.array([len(t) for t in train])
    train_counts = _char_counts(train)
    found = []
    for example in held_out:
        text = _masked(example)
        twin = by_words.get(tuple(sorted(text.split())))
        if twin is None and text:
            low = int(np.searchsorted(lengths, len(text) * _LENGTH_FACTOR, side="left"))
            high = int(np.searchsorted(lengths, len(text) / _LENGTH_FACTOR, side="right"))
            shared = np.minimum(train_counts[low:high], _char_counts([text])).sum(axis=1)
            bound = 2 * shared / (len(text) + lengths[low:high])
            matcher = difflib.SequenceMatcher(autojunk=False)
            matcher.set_seq2(text)
            for index in np.flatnonzero(bound >= NEAR_TWIN_SIMILARITY):
                matcher.set_seq1(train[low + index])
                if matcher.ratio() >= NEAR_TWIN_SIMILARITY:
                    twin = train[low + index]
                    break
        if twin is not None:
            found.append((example, twin))
    return found


def test_held_out_examples_have_no_near_twin_in_the_training_data() -> None:
    """A held-out message with another id, its words reordered or a letter changed is a training
    message: it would flatter the held-out figures."""
    training = [example for path in TRAIN_FILES.values() for examples in _examples(path).values()
                for example in examples]
    twins = [
        (name, example, twin)
        for name, path in HELD_OUT_FILES.items()
        for example, twin in near_twins(training, [e for examples in _examples(path).values() for e in examples])
    ]
    assert not twins, f"{len(twins)} held-out examples with a near-twin in the training data: {twins}"


def test_near_twins_are_found_through_masks_order_and_small_edits() -> None:
    training = ["mi pedido [PED-10234](order_id) no ha llegado", "where is my order", "quiero hablar con un asesor"]
    held_out = ["Mi pedido PED-10999 no ha llegado!", "my order where is", "quiero hablar con una asesora",
                "quiero hablar con alguien de ventas", "where is the invoice"]
    assert [pair[0] for pair in near_twins(training, held_out)] == held_out[:3]


@pytest.mark.parametrize("path", [*TRAIN_FILES.values(), *UNSEEN_FILES.values()], ids=lambda p: p.name)
def test_annotations_use_contract_entities_and_valid_values(path: Path) -> None:
    bad = []
    for examples in _examples(path).values():
        for example in examples:
            for text, entity, value in _annotations(example):
                if entity not in ENTITIES:
                    bad.append((example, f"unknown entity {entity}"))
                elif entity == "branch" and value not in BRANCHES:
                    bad.append((example, f"branch value {value!r} is not a branch id"))
                elif entity == "order_id" and not re.fullmatch(r"(?i)(ped[- ]?|#)?\d{5}", text):
                    bad.append((example, f"order id {text!r}"))
                elif entity == "ticket_id" and not re.fullmatch(r"(?i)tck[- ]?\d{4}", text):
                    bad.append((example, f"ticket id {text!r}"))
                elif entity == "quantity" and not text.isdigit():
                    bad.append((example, f"quantity {text!r}"))
                elif entity == "email" and not re.fullmatch(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", text):
                    bad.append((example, f"email {text!r}"))
    assert not bad


@pytest.mark.parametrize("path", [*TRAIN_FILES.values(), *UNSEEN_FILES.values()], ids=lambda p: p.name)
def test_entity_values_are_always_annotated(path: Path) -> None:
    """An order id, ticket id, email, quantity, product or branch left bare is a labelling bug."""
    terms = sorted({*_lookup("product"), *_lookup("branch")}, key=len, reverse=True)
    term_pattern = re.compile(
        r"(?<!\w)(" + "|".join(re.escape(t) for t in terms) + r")(?!\w)", re.IGNORECASE
    )
    id_patterns = [
        re.compile(r"(?i)\bped[- ]?\d{5}\b"),
        re.compile(r"#\d{5}\b"),
        re.compile(r"\b102[3-6]\d\b"),
        re.compile(r"(?i)\btck[- ]?\d{4}\b"),
        re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"),
        re.compile(r"(?i)\b\d+\s*(piezas|pzas|pzs|unidades|units|pieces|pcs)\b"),
    ]
    missed = []
    for examples in _examples(path).values():
        for example in examples:
            residue = ANNOTATION.sub(" § ", example)
            hits = [m.group(0) for m in term_pattern.finditer(residue)]
            hits += [m.group(0) for p in id_patterns for m in p.finditer(residue)]
            if hits:
                missed.append((example, hits))
    assert not missed, f"unannotated entity values: {missed}"


def test_branch_synonyms_and_lookup_follow_the_catalogue() -> None:
    synonyms = _synonyms()
    for branch_id, branch in BRANCHES.items():
        for alias in [branch["name"].lower(), *branch["aliases"]]:
            if alias != branch_id:
                assert synonyms.get(alias) == branch_id, alias
    assert set(synonyms.values()) == set(BRANCHES)
    assert set(_lookup("branch")) == set(synonyms) | set(BRANCHES)


def test_product_lookup_follows_the_catalogue() -> None:
    lookup = set(_lookup("product"))
    expected = {
        term.lower() for sku, name, _cat, _price, aliases in PRODUCTS for term in (sku, name, *aliases)
    }
    assert expected <= lookup
    assert all(term == term.lower() for term in lookup)


def test_every_faq_has_a_spanish_default_and_an_english_variation() -> None:
    data = yaml.safe_load(FAQ_FILE.read_text(encoding="utf-8"))
    assert str(data["version"]) == "3.1"
    responses = data["responses"]
    assert set(responses) == {f"utter_faq/{sub}" for sub in FAQ_SUBINTENTS}
    english = [{"type": "slot", "name": "language", "value": "en"}]
    for name, variations in responses.items():
        assert len(variations) == 2, name
        spanish, english_variation = variations
        assert "condition" not in spanish and spanish["text"].strip(), name
        assert english_variation.get("condition") == english, name
        assert english_variation["text"].strip() and english_variation["text"] != spanish["text"], name


def test_branches_faq_lists_every_branch_address_and_phone() -> None:
    responses = yaml.safe_load(FAQ_FILE.read_text(encoding="utf-8"))["responses"]
    for variation in responses["utter_faq/branches"]:
        for branch in BRANCHES.values():
            assert branch["address"] in variation["text"], branch["name"]
            assert branch["phone"] in variation["text"], branch["name"]
