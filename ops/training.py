"""Train the Rasa model when, and only when, what it is trained from has changed.

A content hash of data/, domain.yml, config.yml and our NLU components is kept next to the
model; hashing takes milliseconds, while asking Rasa to decide means importing TensorFlow. The
sentence encoder's pinned sha256 digests (bot/nlu/sentence_encoder.sha256) are part of it, as a
file of bot/nlu: a model is trained with one encoder, and another encoder's vectors would need
another model.
"""
from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from bot.config import ROOT

logger = logging.getLogger(__name__)

MODEL_DIR = ROOT / "models"
MODEL_NAME = "unisono"
MODEL_PATH = MODEL_DIR / f"{MODEL_NAME}.tar.gz"
FINGERPRINT_PATH = MODEL_DIR / f"{MODEL_NAME}.fingerprint"
INPUTS = ("data", "domain.yml", "config.yml", "bot/nlu")
# Inside bot/nlu, so hashed with it (read as a file, not imported: importing bot.nlu imports Rasa).
ENCODER_DIGESTS = "bot/nlu/sentence_encoder.sha256"


def fingerprint(root: Path = ROOT) -> str:
    """Hash of every file the model depends on (paths and contents)."""
    digest = hashlib.sha256()
    for name in INPUTS:
        path = root / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.suffix == ".pyc" or "__pycache__" in file.parts:
                continue
            digest.update(str(file.relative_to(root)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def is_current() -> bool:
    return (
        MODEL_PATH.exists()
        and FINGERPRINT_PATH.exists()
        and FINGERPRINT_PATH.read_text().strip() == fingerprint()
    )


def train(force: bool = False) -> bool:
    """Trains unless the model is current; returns whether it trained."""
    if not force and is_current():
        logger.info("model %s is up to date", MODEL_PATH.relative_to(ROOT))
        return False
    MODEL_DIR.mkdir(exist_ok=True)
    expected = fingerprint()
    started = time.monotonic()
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    subprocess.run(
        [
            sys.executable, "-m", "ops.quiet", "rasa", "train",
            "--config", "config.yml", "--domain", "domain.yml", "--data", "data",
            "--out", str(MODEL_DIR), "--fixed-model-name", MODEL_NAME, "--force",
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    FINGERPRINT_PATH.write_text(expected + "\n")
    logger.info("trained %s in %.0f s", MODEL_PATH.relative_to(ROOT), time.monotonic() - started)
    return True
