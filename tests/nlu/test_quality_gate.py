"""The shipped model's quality, measured on the blind sets on every `make test`.

A model that scores well only on data like its training data, or barely beats a TF-IDF + logistic
regression baseline trained on the same examples, is not using what it knows; this gate fails the
suite when the trained model (the one `make test` trains) drops below the bar. The scoring is
bench.nlu_quality's, so the gate and `make bench` cannot disagree on what a figure means.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from bench import nlu_quality

pytestmark = pytest.mark.model

MIN_MACRO_F1 = 0.95
MIN_FAQ_RIGHT = 0.95
MIN_MARGIN_OVER_BASELINE = 0.02
MIN_PROBLEMS_TO_TICKETS = 0.95
LANGS = nlu_quality.LANGS

# Known short of the bar (issue 21 point 2, measured 2026-12-07 on the shipped model): 11 of the
# 12 Spanish problem statements start the ticket flow ("me enviaron cartuchos 664 y yo pedí los 544"
# reads as an order question). The English encoder adds nothing to Spanish and no multilingual one
# ships in a package here. Strict: the day Spanish clears the bar, this turns red until unmarked.
# The Spanish margin over the baseline was short too (0.973 against 0.961, 1.2 points) until the
# order notices' intents came (stop_notices / start_notices, 2026-12-07): 0.971 against 0.950, 2.1
# points, unmarked; on the intents there before, 0.973 against 0.956 (1.7 points): the new intents,
# where the baseline confuses "stop" and "start" more often, carry it over the bar.
SPANISH_SHORT = pytest.mark.xfail(strict=True, reason="issue 21 point 2: Spanish is short of the bar (see above)")
LANGS_SPANISH_SHORT = [pytest.param("es", marks=SPANISH_SHORT), "en"]


@pytest.fixture(scope="module")
def scores(model_path: Path) -> dict:
    """The shipped model and the baseline (trained on all of data/nlu) on the blind sets."""
    training = nlu_quality.load_training()
    train = [example for lang in LANGS for example in training[lang]]
    # The fitted baseline is kept in var/cache while data/nlu is unchanged (fitting it takes ~100 s).
    cache = nlu_quality.ROOT / "var" / "cache"
    return nlu_quality.score_held_out(model_path, train, nlu_quality.load_held_out(("blind",)), cache_dir=cache)


@pytest.mark.parametrize("lang", LANGS)
def test_blind_macro_f1_is_at_least_the_bar(scores: dict, lang: str) -> None:
    f1 = scores["f1"]["ours"][f"blind_{lang}"]
    assert f1 >= MIN_MACRO_F1, f"blind {lang} macro-F1 {f1:.3f}; confusions: {scores['top_confusions']['ours']}"


@pytest.mark.parametrize("lang", LANGS)
def test_faq_questions_get_the_right_answer(scores: dict, lang: str) -> None:
    right, asked = scores["faq_answer_right"][f"blind_{lang}"]
    assert asked >= 20 and right / asked >= MIN_FAQ_RIGHT, f"{lang}: {right}/{asked} right FAQ answers"


@pytest.mark.parametrize("lang", LANGS)
def test_the_baseline_stays_two_points_behind(scores: dict, lang: str) -> None:
    ours, baseline = (scores["f1"][system][f"blind_{lang}"] for system in ("ours", "baseline"))
    assert ours - baseline >= MIN_MARGIN_OVER_BASELINE, f"{lang}: ours {ours:.3f}, baseline {baseline:.3f}"


@pytest.mark.parametrize("lang", LANGS_SPANISH_SHORT)
def test_problem_statements_start_the_ticket_flow(scores: dict, lang: str) -> None:
    started, problems = scores["problems_to_tickets"][f"blind_{lang}"]
    assert problems >= 10 and started / problems >= MIN_PROBLEMS_TO_TICKETS, f"{lang}: {started}/{problems}"
