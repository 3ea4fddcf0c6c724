"""Replicas 1 against 2 behind HAProxy, on PostgreSQL and Redis, on this machine.

    python -m bench.replicas [--levels 20,50] [--rounds 3] [--out-dir bench/results]
    python -m bench --replicas-only            (the same)
    python -m bench                            (the full run includes it)

One cluster (ops.cluster: action server, two replicas, HAProxy) is started once, plus a second
HAProxy, generated the same way, whose only server is replica-0. "1 replica" is web chat sent
through that balancer, "2 replicas" through the cluster's: the same processes, model, database
and action server, so the configurations can alternate (1, 2, 1, 2 ... at each N) and drift on
a shared machine hits both. In "1 replica" replica-1 is loaded but idle (it still polls the jobs
table every 0.5 s; its CPU is measured like every other process's). Work is claimed at birth by
the replica that took the request, so the idle one does not share the load.

Each run is bench/load.py's web chat driver (its own process) against a balancer. Around each
run the CPU of every process group is sampled from /proc (bench/cpu.py), to say what limits the
second replica rather than guess. Another `rasa run` on the machine (someone else's test) is
waited for before starting and, if it shows up during a run, recorded against that run.
The turn lock's cost per turn comes from bench/lock_latency.py, run afterwards.
Standalone, writes bench/results/replicas-YYYY-MM-DD.{json,md}.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

from bench import cpu, report  # noqa: E402
from bench.report import log  # noqa: E402
from bot.config import ROOT  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DATABASE = "unisono_bench_replicas"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
CONFIGS = (1, 2)
TARGET_RATIO = 1.5
LOCK_TARGET_MS = 2.0
FOREIGN_WAIT_S = 900.0
CONTENDED_OTHER_CORES = 0.25  # busy cores of the machine outside the measured processes


# -- pure parts: figures from runs -------------------------------------------------------------------
def order(rounds: int, level_index: int) -> list[int]:
    """1, 2, 1, 2 ... (2, 1, 2, 1 ... at every other N, so neither always goes first)."""
    first = CONFIGS if level_index % 2 == 0 else CONFIGS[::-1]
    return [config for _ in range(rounds) for config in first]


def mean_cores(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Cores per process group over several runs, weighted by their wall time."""
    wall = sum(run["wall_s"] for run in runs)
    names = {name for run in runs for name in run.get("cores", {})}
    return {name: round(sum(run["cores"].get(name, 0.0) * run["wall_s"] for run in runs) / wall, 2)
            for name in sorted(names)} if wall else {}


def contended(run: dict[str, Any]) -> bool:
    """Someone else's cluster was up, or other work kept a quarter of a core or more busy."""
    return bool(run.get("foreign_rasa")) or run.get("cores", {}).get("other", 0.0) >= CONTENDED_OTHER_CORES


def level_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One N: per replica count the pooled latencies and overall throughput, then the comparison.

    Contended runs (see `contended`) are left out while each configuration keeps a clean one.
    """
    out: dict[str, Any] = {}
    clean = [run for run in runs if not contended(run)]
    if {run["replicas"] for run in clean} >= set(CONFIGS):
        runs = clean
    for config in CONFIGS:
        mine = [run for run in runs if run["replicas"] == config]
        out[str(config)] = {**report.summarize(mine), "cores": mean_cores(mine),
                            "runs_msgs_per_s": [round(r["messages"] / r["wall_s"], 2) for r in mine],
                            "contended_runs": sum(1 for r in mine if contended(r))}
    one, two = out["1"], out["2"]
    out["ratio_throughput"] = report.ratio(two["msgs_per_s"], one["msgs_per_s"])
    out["p95_not_worse"] = bool(two["p95_ms"] and one["p95_ms"] and two["p95_ms"] <= one["p95_ms"])
    out["target_met"] = bool(out["ratio_throughput"] and out["ratio_throughput"] >= TARGET_RATIO
                             and out["p95_not_worse"])
    return out


def verdict(result: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets, each true or false (None: not measured)."""
    levels = result.get("levels") or {}
    lock = (result.get("lock") or {}).get("redis") or {}
    return {
        "throughput_2_over_1_at_least_1_5": {n: row["ratio_throughput"] for n, row in levels.items()},
        "p95_not_worse": {n: row["p95_not_worse"] for n, row in levels.items()},
        "replicas_target_met": bool(levels) and all(row["target_met"] for row in levels.values()),
        "lock_p50_ms": lock.get("p50_ms"),
        "lock_target_met": None if "p50_ms" not in lock else lock["p50_ms"] < LOCK_TARGET_MS,
    }


# -- the processes -----------------------------------------------------------------------------------
def foreign_rasa(ours: set[int]) -> list[int]:
    """`rasa run` processes that are not ours: another person's cluster on this machine."""
    done = subprocess.run(["pgrep", "-f", "rasa run"], capture_output=True, text=True)
    return [int(p) for p in done.stdout.split() if int(p) not in ours and int(p) != os.getpid()]


def wait_for_quiet_machine(ours: frozenset[int] = frozenset(), limit_s: float = FOREIGN_WAIT_S) -> float:
    """Waits (up to `limit_s`) while someone else's `rasa run` is running; returns the seconds waited.

    Two clusters on two cores measure each other: his figures and ours would both be wrong.
    """
    began, next_log = time.monotonic(), 0.0
    while (others := foreign_rasa(set(ours))) and time.monotonic() - began < limit_s:
        if time.monotonic() >= next_log:
            log(f"another `rasa run` is running (pids {others}): waiting for it to finish")
            next_log = time.monotonic() + 60
        time.sleep(5)
    return round(time.monotonic() - began, 1)


class Bench:
    """The cluster, the one-replica balancer, and the runs against them."""

    def __init__(self, database_url: str, redis_url: str, workdir: Path) -> None:
        from bench.stack import GENEROUS_RATE_LIMITS, QUIET_CONNECTORS, WEBCHAT_SECRET, free_port
        from ops.cluster import Cluster, port_in_use

        base = free_port()
        while port_in_use(base + 1):
            base = free_port()
        env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "RASA_TELEMETRY_ENABLED": "false",
               "WEBCHAT_SECRET": WEBCHAT_SECRET, "WEBCHAT_IDENTITY_SECRET": WEBCHAT_SECRET + "-identity",
               **{name: "" for name in QUIET_CONNECTORS}, **GENEROUS_RATE_LIMITS}
        self.cluster = Cluster(2, free_port(), env, workdir / "cluster", base, free_port())
        self.one_port, self.workdir = free_port(), workdir
        self.one: Optional[subprocess.Popen] = None

    def url(self, replicas: int) -> str:
        return self.cluster.url if replicas == 2 else f"http://127.0.0.1:{self.one_port}"

    def start(self) -> None:
        """Cluster first (loads the model twice), then the one-replica balancer."""
        from ops.cluster import haproxy_binary, haproxy_config, http_status

        self.cluster.start()
        self.cluster.wait_ready(timeout=600)
        config = self.cluster.workdir / "haproxy-one.cfg"
        config.write_text(haproxy_config(self.one_port, [self.cluster.replica_port(0)]))
        with open(self.workdir / "haproxy-one.log", "ab") as sink:
            self.one = subprocess.Popen([haproxy_binary(), "-db", "-f", str(config)], stdout=sink,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while http_status(self.url(1) + "/health") != 200:
            if time.monotonic() > deadline or self.one.poll() is not None:
                raise RuntimeError(f"the one-replica balancer did not answer; see {self.workdir}")
            time.sleep(0.3)

    def groups(self) -> dict[str, list[int]]:
        """Process groups whose CPU is sampled: ours by name, PostgreSQL and Redis by command."""
        groups = {child.name: [child.process.pid] for child in self.cluster.children if child.process}
        groups["balancer"] = groups.get("balancer", []) + ([self.one.pid] if self.one else [])
        groups["postgresql"] = cpu.named(["postgres"])
        groups["redis"] = cpu.named(["redis-server"])
        return groups

    def pids(self) -> set[int]:
        return {p for pids in self.groups().values() for pid in pids for p in cpu.tree(pid)}

    def run(self, replicas: int, n: int, conversations: int, offset: int) -> dict[str, Any]:
        """One load run through the chosen balancer, with the CPU of every process group around it."""
        from bench.__main__ import _child_env, run_child

        waited = wait_for_quiet_machine(frozenset(self.pids()), limit_s=FOREIGN_WAIT_S / 3)
        waited += self.wait_for_idle_cores()
        groups = self.groups()
        before = cpu.sample(groups)
        command = [sys.executable, "-m", "bench.load", "--target", "ours", "--url", self.url(replicas),
                   "--concurrency", str(n), "--conversations", str(conversations), "--offset", str(offset)]
        run = run_child(command, _child_env(), self.workdir / "load.log")
        after = cpu.sample(groups)
        run["cores"] = cpu.cores(before, after, run["wall_s"], {"load generator": run.get("cpu_s", 0.0)})
        run["foreign_rasa"] = len(foreign_rasa(self.pids()))
        run["replicas"], run["waited_s"] = replicas, waited
        run.pop("transcripts", None)
        for child in self.cluster.children:
            if not child.alive():
                raise RuntimeError(f"{child.name} died during the run; see {self.cluster.workdir}")
        return run

    def wait_for_idle_cores(self, limit_s: float = 120.0, window_s: float = 2.0) -> float:
        """Waits (up to `limit_s`) while work other than ours keeps CONTENDED_OTHER_CORES or more busy
        (other people's tests on a shared machine); returns the seconds waited."""
        began = time.monotonic()
        while time.monotonic() - began < limit_s:
            groups = self.groups()
            before = cpu.sample(groups)
            time.sleep(window_s)
            if cpu.cores(before, cpu.sample(groups), window_s)["other"] < CONTENDED_OTHER_CORES:
                break
        return round(time.monotonic() - began - window_s, 1)

    def rss_mb(self) -> dict[str, Optional[float]]:
        from bench.stack import rss_mb

        return {child.name: rss_mb(child.process.pid) for child in self.cluster.children if child.alive()}

    def stop(self) -> None:
        if self.one is not None and self.one.poll() is None:
            os.killpg(self.one.pid, signal.SIGTERM)
            self.one.wait(timeout=10)
        self.cluster.stop(grace=20)


# -- the measurement ---------------------------------------------------------------------------------
def _rounds(bench: Bench, levels: list[int], rounds: int, out: dict[str, Any]) -> None:
    for i, n in enumerate(levels):
        runs = []
        for j, replicas in enumerate(order(rounds, i)):
            run = bench.run(replicas, n, 2 * n, j)
            log(f"replicas={replicas} N={n}: {run['messages'] / run['wall_s']:.1f} msg/s, "
                f"cores {run['cores']}" + (f", {run['foreign_rasa']} foreign rasa" if run["foreign_rasa"] else ""))
            if run["errors"]:
                out["errors"].append(f"replicas={replicas} N={n}: {run['errors'][0]}")
            out["runs"].append(run)
            runs.append(run)
        out["levels"][str(n)] = level_summary(runs)
        row = out["levels"][str(n)]
        log(f"N={n}: 1 replica {row['1']['msgs_per_s']} msg/s p95 {row['1']['p95_ms']} ms | 2 replicas "
            f"{row['2']['msgs_per_s']} msg/s p95 {row['2']['p95_ms']} ms | ratio {row['ratio_throughput']}")


def lock_latency(redis_url: str, workdir: Path, turns: int = 2000) -> dict[str, Any]:
    from bench.__main__ import _child_env, run_child

    command = [sys.executable, "-m", "bench.lock_latency", "--redis-url", redis_url, "--turns", str(turns)]
    return run_child(command, _child_env(), workdir / "lock.log")


def measure(levels: list[int], rounds: int, workdir: Path, redis_url: Optional[str] = None) -> dict[str, Any]:
    """The whole replicas benchmark; errors are reported in the result, not raised."""
    from bench import databases

    redis_url = redis_url or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    out: dict[str, Any] = {"plan": {"levels": levels, "rounds_per_config": rounds, "order": "1, 2, 1, 2 ... "
                                    "(2, 1, ... at every other N)", "conversations_per_run": "2 N",
                                    "messages_per_conversation": 6},
                           "levels": {}, "runs": [], "errors": [], "loadavg_start": list(os.getloadavg())}
    out["waited_for_others_s"] = wait_for_quiet_machine()
    try:
        with databases.postgres_database(DATABASE) as url:
            bench = Bench(url, redis_url, workdir)
            try:
                log("replicas: starting the action server, 2 replicas and HAProxy (two model loads)")
                began = time.monotonic()
                bench.start()
                out["startup_s"] = round(time.monotonic() - began, 1)
                for replicas in CONFIGS:  # warm-up: every script once through each balancer
                    bench.run(replicas, 2, 4, 0)
                _rounds(bench, levels, rounds, out)
                out["rss_mb"] = bench.rss_mb()
            finally:
                bench.stop()
        out["lock"] = lock_latency(redis_url, workdir)
    except Exception as error:  # noqa: BLE001 - report what was measured, and why the rest was not
        out["errors"].append(f"{type(error).__name__}: {error}")
        log(f"replicas failed: {error}")
    out["loadavg_end"] = list(os.getloadavg())
    out["verdict"] = verdict(out)
    return out


# -- the report --------------------------------------------------------------------------------------
CORE_GROUPS = ("replica-0", "replica-1", "actions", "balancer", "load generator", "postgresql", "redis", "other",
               "machine")


def _table(levels: dict[str, Any]) -> list[str]:
    lines = ["| N | replicas | msgs/s | p50 ms | p95 ms | p99 ms | messages | failed | 2/1 throughput | p95 not worse |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for n in sorted(levels, key=int):
        row = levels[n]
        for config in CONFIGS:
            s = row[str(config)]
            tail = (f"{report._f(row['ratio_throughput'], 2)} | {'yes' if row['p95_not_worse'] else 'no'}"
                    if config == 2 else " | ")
            lines.append(f"| {n} | {config} | {report._f(s['msgs_per_s'])} | {report._f(s['p50_ms'], 0)} "
                         f"| {report._f(s['p95_ms'], 0)} | {report._f(s['p99_ms'], 0)} | {s['messages']} "
                         f"| {s['failed'] + s['without_reply']} | {tail} |")
    return lines


def _cores_table(levels: dict[str, Any]) -> list[str]:
    lines = ["| N | replicas | " + " | ".join(CORE_GROUPS) + " |", "|---:|---:|" + "---:|" * len(CORE_GROUPS)]
    for n in sorted(levels, key=int):
        for config in CONFIGS:
            cores = levels[n][str(config)]["cores"]
            lines.append(f"| {n} | {config} | " + " | ".join(report._f(cores.get(g), 2) for g in CORE_GROUPS) + " |")
    return lines


def _lock_lines(lock: dict[str, Any]) -> list[str]:
    redis_lock, ping, local = lock.get("redis") or {}, lock.get("redis_ping") or {}, lock.get("local") or {}
    if "p50_ms" not in redis_lock:
        return [f"Turn lock: not measured ({redis_lock.get('skipped', 'no result')}).", ""]
    return ["| turn lock (acquire + release, uncontended) | p50 ms | p95 ms | mean ms |", "|---|---:|---:|---:|",
            f"| Redis (`RedisTurnLocks`, what replicas use) | {redis_lock['p50_ms']} | {redis_lock['p95_ms']} "
            f"| {redis_lock['mean_ms']} |",
            f"| Redis PING (one round trip, the floor) | {ping.get('p50_ms')} | {ping.get('p95_ms')} "
            f"| {ping.get('mean_ms')} |",
            f"| in-process (`LocalTurnLocks`, `make run`) | {local.get('p50_ms')} | {local.get('p95_ms')} "
            f"| {local.get('mean_ms')} |",
            "", f"{lock.get('turns')} turns, each on a fresh conversation (`python -m bench.lock_latency`), "
            "timed one at a time on a quiet Redis after the load runs.", ""]


def _verdict_lines(result: dict[str, Any]) -> list[str]:
    v = result.get("verdict") or {}
    ratios = ", ".join(f"N={n}: {report._f(r, 2)}×" for n, r in sorted(v.get("throughput_2_over_1_at_least_1_5", {}).items(),
                                                                       key=lambda x: int(x[0])))
    p95 = ", ".join(f"N={n}: {'yes' if ok else 'no'}" for n, ok in sorted(v.get("p95_not_worse", {}).items(),
                                                                          key=lambda x: int(x[0])))
    lock = v.get("lock_target_met")
    return ["| target (issue 17) | measured | met |", "|---|---|---|",
            f"| 2 replicas ≥ {TARGET_RATIO}× the throughput of 1 and p95 no worse | {ratios}; p95 no worse {p95} "
            f"| {'yes' if v.get('replicas_target_met') else 'no'} |",
            f"| turn lock < {LOCK_TARGET_MS:g} ms p50 | {report._f(v.get('lock_p50_ms'), 3)} ms "
            f"| {'–' if lock is None else 'yes' if lock else 'no'} |", ""]


def markdown_section(result: dict[str, Any], heading: str = "##") -> list[str]:
    """The replicas figures as Markdown lines (in latest.md and in the dated replicas file)."""
    levels = result.get("levels") or {}
    shared = [r for r in result.get("runs", []) if contended(r)]
    lines = [f"{heading} Replicas: 1 against 2 behind HAProxy (PostgreSQL + Redis)", "",
             "Web chat through HAProxy to one replica or round robin to two (the same processes; see "
             "bench/replicas.py), runs alternated 1, 2, 1, 2 at each N, "
             f"{result.get('plan', {}).get('rounds_per_config')} runs per configuration, 2 N conversations "
             "of 6 messages per run. Latency is request to HTTP response with every reply in it.", ""]
    if levels:
        lines += [*_table(levels), "", "Cores kept busy during the runs (CPU seconds / wall seconds; "
                  "`other` = the machine's busy time not accounted for by the listed processes: exited "
                  "PostgreSQL backends, the kernel, other people's work; `postgresql` is every PostgreSQL "
                  "process, other people's queries included):", "", *_cores_table(levels), ""]
    lines += _lock_lines(result.get("lock") or {}) + _verdict_lines(result)
    lines.append(f"Load average at start {[round(x, 2) for x in result.get('loadavg_start', [])]}, at end "
                 f"{[round(x, 2) for x in result.get('loadavg_end', [])]}; waited "
                 f"{result.get('waited_for_others_s', 0)} s for another `rasa run` before starting; "
                 f"{len(shared)} of {len(result.get('runs', []))} runs were contended (another `rasa run`, or "
                 f"≥ {CONTENDED_OTHER_CORES} cores of other work: `other` above) "
                 "(left out of the figures above wherever each configuration had a clean run at that N).")
    lines += ["", *[f"- problem: {e}" for e in result.get("errors", [])]]
    return lines


def standalone_markdown(result: dict[str, Any]) -> str:
    m = result.get("machine") or {}
    intro = [f"# unisono: replicas benchmark, {result.get('date', '')[:10]}", "",
             f"Generated by `python -m bench.replicas` (also `python -m bench --replicas-only`, and part of "
             f"`make bench`) on {result.get('date')}. Machine: {m.get('cpu')}, {m.get('cores')} cores, "
             f"{m.get('ram_gb')} GB RAM, Python {m.get('python')}, Rasa {m.get('rasa')}. Duration "
             f"{result.get('duration_s')} s, cluster start-up (two model loads) {result.get('startup_s')} s.", ""]
    rss = result.get("rss_mb") or {}
    tail = ["", "Resident memory after the runs (MB): " + ", ".join(f"{k} {v}" for k, v in rss.items()), ""] if rss else [""]
    return "\n".join(intro + markdown_section(result) + tail)


def _stop(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replicas", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="20,50", help="comma-separated concurrencies (default 20,50)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per configuration at each N (default 3)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, configs)")
    args = parser.parse_args(argv)
    from ops.training import is_current

    if not is_current():
        print("the trained model is missing or stale: run `make train` first", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _stop)  # stop the cluster on SIGTERM too, not only on Ctrl-C
    workdir, began = Path(tempfile.mkdtemp(prefix="unisono-replicas-")), time.monotonic()
    result = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "machine": report.machine()}
    result.update(measure(sorted({int(x) for x in args.levels.split(",")}), args.rounds, workdir))
    result["duration_s"] = round(time.monotonic() - began, 1)
    path = write(result, args.out_dir)
    log(f"replicas -> {path}; verdict {result['verdict']}; logs in {workdir}")
    if not (args.keep or result["errors"]):
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if result["errors"] else 0


def write(result: dict[str, Any], out_dir: Path) -> Path:
    """replicas-YYYY-MM-DD.json and .md (the date of the run, UTC)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"replicas-{result['date'][:10]}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    stem.with_suffix(".md").write_text(standalone_markdown(result))
    return stem.with_suffix(".md")


if __name__ == "__main__":
    sys.exit(main())
