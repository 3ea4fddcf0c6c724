"""`python -m ops.seed`: the operator's command that migrates the configured database and seeds it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from actions.backend import tables as t
from bot import db

ROOT = Path(__file__).resolve().parents[2]


def _count(url: str, table: type) -> int:
    with db.session_scope(url) as s:
        return s.scalar(select(func.count()).select_from(table))


def test_python_m_ops_seed_migrates_and_seeds_the_configured_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false"}
    first = subprocess.run([sys.executable, "-m", "ops.seed"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "Demo data loaded" in first.stdout
    second = subprocess.run([sys.executable, "-m", "ops.seed"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert second.returncode == 0 and "nothing changed" in second.stdout
    assert _count(url, t.Order) == 22
    db.dispose(url)
