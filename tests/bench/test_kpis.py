"""bench.kpis end to end with a small N: seeds PostgreSQL, serves the admin area, times the calls
and reports them (the full run, 100,000 sessions, is `python -m bench.kpis`)."""
from __future__ import annotations

from bench import kpis


def test_the_kpi_benchmark_seeds_serves_times_and_reports() -> None:
    result = kpis.run(sessions=1500, days=20, calls=2, database="unisono_bench_kpis_smoke")
    assert result["errors"] == []
    assert result["stored"]["care_sessions"] == 1500 and result["stored"]["messages"] == 3000
    assert 100 < result["stored"]["handoffs"] < 400  # about 15 %
    rows = {row["scenario"]: row for row in result["scenarios"]}
    assert rows["every session, wall-clock"]["sessions_in_period"] == 1500
    assert 0 < rows["the default week"]["sessions_in_period"] < 1500
    for row in rows.values():
        assert row["calls"] == 2 and 0 < row["p50_ms"] <= row["max_ms"]
    assert result["verdict"]["target_met"] in (True, False)
    text = "\n".join(kpis.markdown_section(result))
    assert "| every session, business hours | 1,500 |" in text and "Target (issue 18)" in text
