"""bench.replicas: the figures and the verdict from load runs, and their report (no cluster started).

Starting a cluster loads the model twice (minutes on this machine), so the run itself is not
part of the tests; `python -m bench.replicas` is. What is tested here is what turns runs into
the numbers docs/deployment.md quotes: alternation, pooling, ratio, the targets' verdict.
"""
from __future__ import annotations

from typing import Any

from bench.replicas import level_summary, markdown_section, mean_cores, order, verdict


def _run(replicas: int, latencies: list[float], wall_s: float, cores: dict[str, float] | None = None,
         foreign: int = 0) -> dict[str, Any]:
    return {"replicas": replicas, "latencies_ms": latencies, "messages": len(latencies), "wall_s": wall_s,
            "failed": 0, "without_reply": 0, "cores": cores or {}, "foreign_rasa": foreign}


def test_configurations_alternate_and_every_other_level_starts_with_two() -> None:
    assert order(3, 0) == [1, 2, 1, 2, 1, 2]
    assert order(2, 1) == [2, 1, 2, 1]


def test_throughput_is_pooled_over_runs_and_compared_two_over_one() -> None:
    runs = [_run(1, [100.0] * 20, 2.0), _run(2, [80.0] * 20, 1.0),  # 10 and 20 msg/s
            _run(1, [120.0] * 20, 2.0), _run(2, [90.0] * 20, 1.0)]
    row = level_summary(runs)
    assert row["1"]["msgs_per_s"] == 10.0 and row["2"]["msgs_per_s"] == 20.0
    assert row["1"]["messages"] == 40 and row["2"]["runs_msgs_per_s"] == [20.0, 20.0]
    assert row["ratio_throughput"] == 2.0
    assert row["p95_not_worse"] is True and row["target_met"] is True


def test_runs_under_someone_elses_cluster_are_left_out_while_clean_ones_remain() -> None:
    clean_one, clean_two = _run(1, [100.0] * 20, 2.0), _run(2, [80.0] * 20, 1.0)
    contended = _run(1, [400.0] * 20, 8.0, foreign=3)
    row = level_summary([clean_one, clean_two, contended])
    assert row["1"]["msgs_per_s"] == 10.0 and row["1"]["contended_runs"] == 0
    busy = _run(2, [400.0] * 20, 8.0, cores={"other": 0.6})  # no cluster, but other work on the cores
    assert level_summary([clean_one, clean_two, busy])["2"]["msgs_per_s"] == 20.0
    only_contended = level_summary([contended, clean_two])  # nothing clean for 1 replica: all kept
    assert only_contended["1"]["msgs_per_s"] == 2.5 and only_contended["1"]["contended_runs"] == 1


def test_a_worse_p95_or_a_small_gain_misses_the_target() -> None:
    slower_tail = level_summary([_run(1, [100.0] * 20, 2.0), _run(2, [100.0] * 19 + [900.0], 1.0)])
    assert slower_tail["ratio_throughput"] == 2.0 and slower_tail["p95_not_worse"] is False
    assert slower_tail["target_met"] is False
    small_gain = level_summary([_run(1, [100.0] * 20, 2.0), _run(2, [90.0] * 20, 1.5)])  # 1.33x
    assert small_gain["p95_not_worse"] is True and small_gain["target_met"] is False


def test_cores_are_averaged_by_wall_time() -> None:
    runs = [_run(1, [1.0], 1.0, {"replica-0": 1.0}), _run(1, [1.0], 3.0, {"replica-0": 0.6, "redis": 0.1})]
    assert mean_cores(runs) == {"redis": 0.08, "replica-0": 0.7}


def test_verdict_and_report_say_which_targets_were_met() -> None:
    levels = {"20": level_summary([_run(1, [100.0] * 20, 2.0), _run(2, [90.0] * 20, 1.5)]),
              "50": level_summary([_run(1, [100.0] * 20, 2.0), _run(2, [90.0] * 20, 1.0)])}
    result = {"levels": levels, "runs": [], "plan": {"rounds_per_config": 1}, "errors": [],
              "lock": {"turns": 10, "redis": {"p50_ms": 0.4, "p95_ms": 0.6, "mean_ms": 0.45},
                       "redis_ping": {"p50_ms": 0.2, "p95_ms": 0.3, "mean_ms": 0.2},
                       "local": {"p50_ms": 0.01, "p95_ms": 0.02, "mean_ms": 0.01}}}
    result["verdict"] = verdict(result)
    assert result["verdict"]["replicas_target_met"] is False  # N=20 gained only 1.33x
    assert result["verdict"]["throughput_2_over_1_at_least_1_5"] == {"20": 1.333, "50": 2.0}
    assert result["verdict"]["lock_target_met"] is True
    text = "\n".join(markdown_section(result))
    assert "| 20 | 2 | 13.3 |" in text and "| 1.33 | yes |" in text
    assert "N=20: 1.33×, N=50: 2.00×" in text and "| 0.4 | 0.6 | 0.45 |" in text
    assert "| turn lock < 2 ms p50 | 0.400 ms | yes |" in text


def test_no_lock_figure_is_no_verdict_on_the_lock() -> None:
    assert verdict({"levels": {}, "lock": {"redis": {"skipped": "unreachable"}}})["lock_target_met"] is None
