"""The packaged all-MiniLM-L6-v2, quantized and run by ONNX Runtime: real embeddings, offline."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from bot.nlu.sentence_encoder import (
    DIMENSION,
    ModelFileMismatch,
    SentenceEncoder,
    expected_digests,
    model_directory,
    shared_encoder,
    verify_model,
)


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return shared_encoder()


def test_embeddings_are_unit_vectors_one_per_text(encoder: SentenceEncoder) -> None:
    vectors = encoder.encode(["where is my order", "hola", "x" * 5000])
    assert vectors.shape == (3, DIMENSION)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_paraphrases_lie_closer_than_unrelated_sentences(encoder: SentenceEncoder) -> None:
    """What the n-grams cannot know: these share no word, yet mean the same."""
    package, order, rain = encoder.encode(["where is my package", "my order has not arrived yet",
                                           "will it rain tomorrow"])
    assert float(package @ order) > float(package @ rain) + 0.2


def test_a_text_gets_the_same_vector_in_training_data_as_alone(encoder: SentenceEncoder) -> None:
    """The 8-bit model's output depends on what else is in a batch: training must not batch."""
    texts = ["a", "where is the shipment PED-10234 please tell me", "gracias", "ok"]
    alone = np.vstack([encoder.encode([t]) for t in texts])
    together = encoder.encode(texts, remember=True)
    remembered = encoder.encode(texts)
    assert np.array_equal(alone, together) and np.array_equal(together, remembered)


def test_loading_logs_nothing_from_the_quantizer(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        SentenceEncoder()
    assert not [r for r in caplog.records if r.name == "root"], [r.getMessage() for r in caplog.records][:3]


def test_training_data_encoded_on_every_core_matches_one_by_one(encoder: SentenceEncoder) -> None:
    texts = [f"where is order PED-{10000 + n}, it was due on day {n}" for n in range(80)]
    parallel = SentenceEncoder().encode(texts)  # enough texts to be shared out between threads
    assert np.array_equal(parallel, np.vstack([encoder.encode([t]) for t in texts]))


def test_loading_writes_nothing_beside_the_packaged_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The quantizer's scratch file beside the shared model once made one of two processes that
    loaded at the same time (our server and plain Rasa in the benchmark) fail to load its model."""
    import onnx.shape_inference

    real, written = onnx.shape_inference.infer_shapes_path, []

    def recording(model_path: str, output_path: str = "", *args, **kwargs):
        written.append(Path(output_path or model_path))
        return real(model_path, output_path, *args, **kwargs)

    monkeypatch.setattr(onnx.shape_inference, "infer_shapes_path", recording)
    packaged = model_directory().resolve()
    SentenceEncoder()
    assert written, "the quantizer no longer infers shapes through a file: this test watches nothing"
    assert all(packaged not in path.resolve().parents for path in written), written


def test_the_packaged_model_files_have_the_pinned_digests() -> None:
    digests = expected_digests()
    assert set(digests) == {"onnx/model.onnx", "onnx/model.onnx_data", "tokenizer.json"}
    assert all(len(d) == 64 for d in digests.values())
    verify_model(model_directory(), digests)  # raises if the installed files differ


def test_a_model_file_with_another_hash_is_refused_before_loading() -> None:
    wrong = {**expected_digests(), "tokenizer.json": "0" * 64}
    with pytest.raises(ModelFileMismatch, match=r"tokenizer\.json has sha256 07805d11.*expected 0{64}.*refusing"):
        SentenceEncoder(expected=wrong)


def test_a_missing_model_file_is_refused(tmp_path) -> None:
    with pytest.raises(ModelFileMismatch, match="onnx/model.onnx is missing"):
        SentenceEncoder(directory=tmp_path)
