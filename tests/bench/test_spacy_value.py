"""bench.spacy_value compares entities by canonical value, the same way on both sides."""
from __future__ import annotations

import pytest

from bench.spacy_value import CONFIGS, _canonical


@pytest.mark.parametrize("entity, typed, canonical", [
    ("order_id", "ped 10256", "ped-10256"),
    ("order_id", "PED-10256", "ped-10256"),
    ("ticket_id", "tck 2041", "tck-2041"),
    ("branch", "Monterrey", "mty"),
    ("quantity", "20", "20"),
    ("product", "Toner 85A", "toner 85a"),
])
def test_typed_and_canonical_forms_compare_equal(entity: str, typed: str, canonical: str) -> None:
    assert _canonical(entity, typed) == canonical


def test_compares_the_shipped_config_with_the_spacy_variant() -> None:
    assert all(path.is_file() for path in CONFIGS.values())
    assert "SpacyNLP" not in CONFIGS["shipped"].read_text()
    assert "SpacyNLP" in CONFIGS["with_spacy"].read_text()
