"""`python -m ops` is the command line; `python -m bot` stays its alias, with the same verbs."""
from __future__ import annotations

import subprocess
import sys

import pytest

from bot import db
from bot.config import ROOT
from ops import migrate

VERBS = ("setup", "train", "run", "cluster", "shell", "contacts", "orders", "notices")


@pytest.mark.parametrize("module", ["ops", "bot"])
def test_both_names_offer_the_same_verbs(module: str) -> None:
    done = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"usage: python -m {module}" in done.stdout
    assert all(verb in done.stdout for verb in VERBS)


def test_the_alias_runs_a_verb(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'alias.db'}"
    migrate.upgrade(url)
    db.dispose(url)
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": url,
           "RASA_TELEMETRY_ENABLED": "false", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "bot", "contacts", "export", "nobody@example.com"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "no contact matches 'nobody@example.com'" in done.stderr
