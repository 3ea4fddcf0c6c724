"""The model is retrained when, and only when, what it is trained from changes."""
from __future__ import annotations

import shutil

from ops import training


def copy_inputs(tmp_path):
    for name in training.INPUTS:
        source = training.ROOT / name
        target = tmp_path / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    return tmp_path


def test_fingerprint_is_stable_and_changes_with_data_domain_config_and_components(tmp_path):
    root = copy_inputs(tmp_path)
    first = training.fingerprint(root)
    assert training.fingerprint(root) == first
    for path in ("data/rules.yml", "domain.yml", "config.yml", "bot/nlu/entities.py", training.ENCODER_DIGESTS):
        target = root / path
        original = target.read_text()
        target.write_text(original + "\n# changed\n")
        assert training.fingerprint(root) != first, path
        target.write_text(original)
    assert training.fingerprint(root) == first


def test_unrelated_files_do_not_trigger_training(tmp_path):
    root = copy_inputs(tmp_path)
    first = training.fingerprint(root)
    (root / "README.md").write_text("docs change")
    (root / "bot" / "nlu" / "__pycache__").mkdir(exist_ok=True)
    (root / "bot" / "nlu" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert training.fingerprint(root) == first


def test_the_sentence_encoders_pinned_digests_are_part_of_the_fingerprint(tmp_path):
    root = copy_inputs(tmp_path)
    digests = root / training.ENCODER_DIGESTS
    assert "onnx/model.onnx_data" in digests.read_text()
    first = training.fingerprint(root)
    digests.write_text(digests.read_text().replace("60c7", "0000", 1))  # another encoder's weights
    assert training.fingerprint(root) != first
