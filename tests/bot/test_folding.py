"""bot.folding.fold: the one meaning of "the same word" for everything that compares typed text."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.folding import fold


def test_fold_removes_accents_and_case() -> None:
    assert fold("Mérida, Yucatán, NUEVO LEÓN, pingüino, Ñandú") == "merida, yucatan, nuevo leon, pinguino, nandu"


def test_fold_simplifies_compatibility_forms() -> None:
    assert fold("ＰＥＤ－１０２３４ x²") == "ped-10234 x2"  # full-width letters and digits, superscripts


def test_fold_keeps_length_so_offsets_map_back() -> None:
    text = "Sucursal MÉRIDA ﬁ İ"  # "ﬁ" would decompose to two letters, "İ" lowercase to two
    assert len(fold(text)) == len(text)
    assert fold(text).startswith("sucursal merida")


def test_fold_of_nothing_is_empty() -> None:
    assert fold(None) == "" and fold("") == ""


@given(st.text())
def test_fold_property_same_length_and_idempotent(text: str) -> None:
    folded = fold(text)
    assert len(folded) == len(text)
    assert fold(folded) == folded
