"""`python -m bench --smoke` runs end to end and writes a sane result.

It starts its own action server, our server and plain Rasa on free ports, so it costs about
as much as starting the assistant twice, plus a few dozen messages to each server.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import report

pytestmark = pytest.mark.model

ROOT = Path(__file__).resolve().parents[2]


def test_smoke_bench_writes_a_sane_comparison(model_path: Path, tmp_path: Path) -> None:
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)  # the bench makes its own fresh database
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out-dir", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((tmp_path / "smoke.json").read_text())

    assert result["mode"] == "smoke"
    assert report.problems(result) == [] and result["errors"] == []
    row = result["latency"]["5"]
    for target in ("ours", "plain"):
        stats = row[target]
        assert stats["messages"] == 2 * 5 * 6  # twice in A B B A, 5 conversations of 6 messages each
        assert stats["failed"] == 0 and stats["without_reply"] == 0
        assert 0 < stats["p50_ms"] <= stats["p95_ms"] <= stats["p99_ms"] < 120_000
        assert stats["msgs_per_s"] > 0
    assert result["ratio_p50"] == pytest.approx(row["ours"]["p50_ms"] / row["plain"]["p50_ms"], rel=1e-2)
    assert result["checks"] == {"replies_agree": True, "order_lookups_answered": True}
    assert result["store_ms_per_msg"]["sqlite"] > 0
    assert {"store", "rendering", "outbox"} <= result["breakdown_ms"].keys()
    assert result["rss_mb"] > 100  # a Rasa server with a model loaded, measured before it stopped
    assert result["machine"]["cores"] >= 1
    # Every server it started is gone (a reused pid would run something else).
    assert set(result["pids"]["sqlite"]) == {"actions", "ours", "plain"}
    for pid in result["pids"]["sqlite"].values():
        cmdline = Path(f"/proc/{pid}/cmdline")
        assert not cmdline.exists() or b"rasa" not in cmdline.read_bytes()
