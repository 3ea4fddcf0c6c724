"""`python -m bench`: our message path against plain Rasa in the same run, plus NLU, training, memory.

    python -m bench            full run (make bench): N = 1, 5, 20, 50 on SQLite and PostgreSQL,
                               in-process breakdown, NLU 5-fold CV, training time
                               -> bench/results/latest.{json,md}, latency.png
    python -m bench --smoke    N = 5 on SQLite only, a few dozen messages per server
                               -> bench/results/smoke.json; exits 1 when the result is not sane
    python -m bench.kpis       the KPI API over 100,000 stored sessions on PostgreSQL (bench/kpis.py;
                               the full run includes it) -> bench/results/kpis-YYYY-MM-DD.{json,md}
    python -m bench --replicas-only
                               replicas 1 against 2 behind HAProxy on PostgreSQL + Redis at
                               N = 20 and 50 (bench/replicas.py; the full run includes it)
                               -> bench/results/replicas-YYYY-MM-DD.{json,md}

Every server and helper process is started here on free ports and stopped at the end, also on
Ctrl-C or SIGTERM. See bench/report.py for how the figures are computed.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

from bench import report  # noqa: E402
from bench.report import log  # noqa: E402
from bot.config import ROOT  # noqa: E402

RESULTS = ROOT / "bench" / "results"
MARKER = "BENCH-RESULT "
_children: set[subprocess.Popen] = set()


@dataclass
class Plan:
    mode: str
    levels: list[int]
    min_conversations: int  # per run; at least 2 N so the workers stay busy to the end
    postgres: bool
    breakdown: bool
    nlu_folds: Optional[int]
    train: bool
    store_conversations: int
    replicas: bool = False  # replicas 1 against 2 (needs PostgreSQL and Redis)

    def conversations(self, n: int) -> int:
        return max(self.min_conversations, 2 * n if self.mode == "full" else n)


def _child_env(database_url: Optional[str] = None, cache: Optional[Path] = None) -> dict[str, str]:
    from ops import runner

    env = runner._env()
    env["RASA_TELEMETRY_ENABLED"] = "false"
    if database_url:
        env["DATABASE_URL"] = database_url
    if cache is not None:
        # An empty training cache: components cached by earlier runs (.rasa/cache) would make
        # training look many times faster than it is.
        env["RASA_CACHE_DIRECTORY"] = str(cache)
    return env


def run_child(command: list[str], env: dict[str, str], log_path: Path, marker: bool = False) -> Any:
    """Runs a helper to completion and returns the JSON it printed (the marked line if `marker`)."""
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log_file)
        _children.add(process)
        try:
            out, _ = process.communicate()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            _children.discard(process)
    text = out.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[1:4])} failed ({process.returncode}); see {log_path}:\n"
                           + log_path.read_text(errors="replace")[-2000:])
    if marker:
        lines = [line for line in text.splitlines() if line.startswith(MARKER)]
        if not lines:
            raise RuntimeError(f"{' '.join(command[1:4])} printed no result; see {log_path}")
        return json.loads(lines[-1][len(MARKER):])
    return json.loads(text)


def load_run(target: str, url: str, n: int, conversations: int, offset: int, workdir: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.load", "--target", target, "--url", url,
               "--concurrency", str(n), "--conversations", str(conversations), "--offset", str(offset)]
    return run_child(command, _child_env(), workdir / "load.log")


def bench_database(kind: str, url: str, plan: Plan, levels: list[int], workdir: Path, result: dict) -> dict[str, Any]:
    """Both servers on one database: warm-up, then A B B A (or B A A B) at each N."""
    from bench.stack import Stack
    from bench.load import SCRIPTS

    stack = Stack(url, workdir, name=kind)
    out: dict[str, Any] = {"latency": {}}
    try:
        log(f"{kind}: starting action server, ours and plain Rasa (model load takes a while)")
        began = time.monotonic()
        out["pids"] = stack.pids
        stack.start()
        out["startup_s"] = round(time.monotonic() - began, 1)
        urls = {"ours": stack.ours_url, "plain": stack.plain_url}
        warm = {t: load_run(t, urls[t], 2, len(SCRIPTS), 0, workdir) for t in report.TARGETS}
        out["transcripts"] = {t: warm[t]["transcripts"] for t in report.TARGETS}
        agree = report.transcripts_agree(warm["ours"]["transcripts"], warm["plain"]["transcripts"])
        reference = warm["plain"]["transcripts"]
        for i, n in enumerate(levels):
            pattern = ["ours", "plain", "plain", "ours"] if i % 2 == 0 else ["plain", "ours", "ours", "plain"]
            runs: dict[str, list] = {t: [] for t in report.TARGETS}
            for j, target in enumerate(pattern):
                run = load_run(target, urls[target], n, plan.conversations(n), j, workdir)
                stack.alive()
                agree = agree and report.transcripts_agree(
                    run["transcripts"], {k: reference[k] for k in run["transcripts"] if k in reference})
                if run["errors"]:
                    result["errors"].append(f"{kind} N={n} {target}: {run['errors'][0]}")
                runs[target].append(run)
            out["latency"][str(n)] = {t: report.summarize(runs[t]) for t in report.TARGETS}
            row = out["latency"][str(n)]
            log(f"{kind} N={n}: ours p50 {row['ours']['p50_ms']} ms p95 {row['ours']['p95_ms']} ms "
                f"{row['ours']['msgs_per_s']} msg/s | plain p50 {row['plain']['p50_ms']} ms "
                f"p95 {row['plain']['p95_ms']} ms {row['plain']['msgs_per_s']} msg/s")
        out["checks"] = {
            "replies_agree": agree,
            "order_lookups_answered": report.order_lookups_answered(warm["ours"]["transcripts"])
            and report.order_lookups_answered(warm["plain"]["transcripts"]),
        }
        out["rss_mb"] = stack.rss_mb()
        if plan.breakdown and kind == "sqlite":  # the same model and actions on either database
            log(f"{kind}: in-process breakdown (loads the model once more)")
            command = [sys.executable, "-m", "bench.breakdown", "--action-url", stack.action_url]
            out["breakdown"] = run_child(command, stack.env(), workdir / "breakdown.log", marker=True)
    finally:
        stack.stop()
    replies_file = workdir / f"replies-{kind}.json"
    replies_file.write_text(json.dumps(
        {k: [turn["replies"] for turn in conversation] for k, conversation in out["transcripts"]["plain"].items()}))
    log(f"{kind}: store micro-benchmark")
    command = [sys.executable, "-m", "bench.store_cost", "--conversations", str(plan.store_conversations),
               "--replies", str(replies_file)]
    out["store"] = run_child(command, _child_env(url), workdir / "store_cost.log", marker=True)
    return out


def _wait(command: list[str], env: dict[str, str], log_path: Path, what: str) -> float:
    """Runs a long helper with its output in `log_path`; returns its wall seconds."""
    with open(log_path, "ab") as log_file:
        began = time.monotonic()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=log_file)
        _children.add(process)
        try:
            code = process.wait()
        finally:
            _children.discard(process)
    if code != 0:
        raise RuntimeError(f"{what} failed ({code}); see {log_path}")
    return time.monotonic() - began


def train_seconds(workdir: Path) -> float:
    """Wall time of a full, forced training into a scratch directory (models/ is left alone)."""
    command = [sys.executable, "-m", "rasa", "train", "--config", "config.yml", "--domain", "domain.yml",
               "--data", "data", "--out", str(workdir / "model"), "--fixed-model-name", "unisono", "--force"]
    seconds = _wait(command, _child_env(cache=workdir / "train-cache"), workdir / "train.log", "training")
    return round(seconds, 1)


def nlu_quality(folds: int, out_dir: Path, workdir: Path) -> dict[str, Any]:
    path = out_dir / "nlu.json"
    command = [sys.executable, "-m", "bench.nlu_quality", "--folds", str(folds), "--out", str(path)]
    _wait(command, _child_env(cache=workdir / "nlu-cache"), workdir / "nlu.log", "NLU evaluation")
    return json.loads(path.read_text())


def assemble(result: dict[str, Any], measured: dict[str, dict[str, Any]], levels: list[int]) -> None:
    """Headline figures from the per-database measurements."""
    sqlite = measured.get("sqlite") or {}
    result["latency"] = sqlite.get("latency", {})
    if "postgresql" in measured:
        result["latency_postgresql"] = measured["postgresql"].get("latency", {})
    at = 20 if 20 in levels else max(levels)
    row = result["latency"].get(str(at))
    result["ratio_at_n"] = at
    if row:
        result["ratio_p50"] = report.ratio(row["ours"]["p50_ms"], row["plain"]["p50_ms"])
        result["ratio_throughput"] = report.ratio(row["ours"]["msgs_per_s"], row["plain"]["msgs_per_s"])
    if result["latency"]:
        result["capacity"] = {t: report.capacity(result["latency"], t) for t in report.TARGETS}
        result["capacity_msgs_per_s"] = {t: result["capacity"][t]["msgs_per_s"] for t in report.TARGETS}
    low = str(min(levels))
    result["overhead_ms"] = {"n": int(low)}
    result["store_ms_per_msg"] = {}
    result["store_ops_ms"] = {}
    for kind, data in measured.items():
        row = data.get("latency", {}).get(low)
        if row:
            result["overhead_ms"][kind] = {
                "p50": round(row["ours"]["p50_ms"] - row["plain"]["p50_ms"], 1),
                "mean": round(row["ours"]["mean_ms"] - row["plain"]["mean_ms"], 1),
            }
        if data.get("store"):
            result["store_ms_per_msg"][kind] = data["store"]["store_ms_per_msg"]
            result["store_ops_ms"][kind] = data["store"]["ops_ms_per_msg"]
    result["checks"] = {
        name: all(data.get("checks", {}).get(name) for data in measured.values()) if measured else False
        for name in ("replies_agree", "order_lookups_answered")
    }
    breakdown: dict[str, Any] = {}
    detail = sqlite.get("breakdown")
    if detail:
        breakdown.update({
            "nlu": detail["nlu_ms"],
            "policies_actions": detail["policies_actions_ms"],
            "action_server_call": detail["action_call_ms"].get("action_detect_language"),
            "action_server_call_order": detail["action_call_ms"].get("action_check_order"),
        })
        result["breakdown_detail"] = detail
    store = sqlite.get("store")
    if store:
        breakdown.update({"store": store["store_ms"], "rendering": store["rendering_ms"], "outbox": store["outbox_ms"]})
    result["breakdown_ms"] = breakdown
    rss = sqlite.get("rss_mb") or {}
    result["rss_mb"] = rss.get("ours")
    result["rss_detail"] = rss
    if "postgresql" in measured:
        result["rss_detail_postgresql"] = measured["postgresql"].get("rss_mb")
    result["startup_s"] = {kind: data.get("startup_s") for kind, data in measured.items()}
    result["pids"] = {kind: data.get("pids") for kind, data in measured.items()}
    result["transcripts"] = sqlite.get("transcripts", {}).get("ours")


def _stop(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _arguments(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="quick check that everything runs (N=5, SQLite)")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument("--levels", help="comma-separated concurrencies (default 1,5,20,50; smoke 5)")
    parser.add_argument("--conversations", type=int, help="minimum conversations per run")
    parser.add_argument("--postgres", action=argparse.BooleanOptionalAction, default=None,
                        help="also run on PostgreSQL (default: yes, no in --smoke)")
    parser.add_argument("--folds", type=int, default=5, help="NLU cross-validation folds (0: skip)")
    parser.add_argument("--no-train", action="store_true", help="skip the training-time measurement")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, configs)")
    parser.add_argument("--replicas-only", action="store_true",
                        help="only replicas 1 against 2 (python -m bench.replicas; --levels default 20,50)")
    return parser.parse_args(argv)


def _plan(args: argparse.Namespace) -> Plan:
    if args.smoke:
        plan = Plan("smoke", [5], 5, bool(args.postgres), False, None, False, 5)
    else:
        plan = Plan("full", [1, 5, 20, 50], 10, args.postgres is not False, True,
                    args.folds or None, not args.no_train, 30, replicas=True)
    if args.levels:
        plan.levels = sorted({int(x) for x in args.levels.split(",")})
    if args.conversations:
        plan.min_conversations = args.conversations
    return plan


def _new_result(plan: Plan, model_path: Path) -> dict[str, Any]:
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "mode": plan.mode,
        "machine": report.machine(),
        "plan": {"levels": plan.levels, "conversations_per_run": {str(n): plan.conversations(n) for n in plan.levels},
                 "messages_per_conversation": 6, "runs_per_level": "ours, plain, plain, ours (alternating)",
                 "postgresql": plan.postgres, "model": str(model_path.relative_to(ROOT))},
        "errors": [],
    }


def _measure(plan: Plan, out_dir: Path, workdir: Path, result: dict[str, Any],
             measured: dict[str, dict[str, Any]]) -> None:
    """Every measurement of the plan, into `measured` (per database) and `result`."""
    from bench import databases

    with databases.sqlite_database(workdir) as url:
        measured["sqlite"] = bench_database("sqlite", url, plan, plan.levels, workdir, result)
    if plan.postgres:
        try:
            with databases.postgres_database() as url:
                measured["postgresql"] = bench_database("postgresql", url, plan, plan.levels, workdir, result)
        except databases.Unavailable as error:
            result["errors"].append(f"PostgreSQL not measured: {error}")
    if plan.replicas and plan.postgres:
        from bench import replicas

        log("replicas 1 against 2 behind HAProxy (PostgreSQL + Redis)")
        result["replicas"] = replicas.measure([n for n in plan.levels if n >= 20] or plan.levels, 3,
                                              workdir / "replicas")
        result["errors"] += [f"replicas: {e}" for e in result["replicas"]["errors"]]
    if plan.mode == "full" and plan.postgres:
        from bench import kpis

        log("KPI API over 100,000 stored sessions (PostgreSQL)")
        result["kpis"] = kpis.run(100_000, 90, 30)
        result["errors"] += [f"kpis: {e}" for e in result["kpis"]["errors"]]
    if plan.train:
        log("training time (full model, forced, into a scratch directory)")
        result["train_seconds"] = train_seconds(workdir)
    if plan.nlu_folds:
        log(f"NLU quality, {plan.nlu_folds}-fold cross-validation (trains {plan.nlu_folds} NLU models)")
        result["nlu"] = nlu_quality(plan.nlu_folds, out_dir, workdir)
    elif (RESULTS / "nlu.json").exists():
        result["nlu"] = {**json.loads((RESULTS / "nlu.json").read_text()), "cached": True}


def _clean_up(workdir: Path, keep: bool) -> None:
    """Stops every child still running; the scratch directory stays only when asked or failed."""
    for process in list(_children):
        if process.poll() is None:
            process.terminate()
    if keep:
        log(f"logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


def _write(result: dict[str, Any], out_dir: Path, smoke: bool) -> Path:
    """smoke.json, or latest.json with latest.md and latency.png."""
    path = out_dir / f"{'smoke' if smoke else 'latest'}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    if not smoke:
        if result["latency"]:
            report.plot(result, out_dir / "latency.png")
        (out_dir / "latest.md").write_text(report.markdown(result))
    return path


def main(argv: Optional[list[str]] = None) -> int:
    args = _arguments(argv)
    if args.replicas_only:
        from bench import replicas

        forwarded = ["--out-dir", str(args.out_dir)] + (["--levels", args.levels] if args.levels else [])
        return replicas.main(forwarded + (["--keep"] if args.keep else []))
    plan = _plan(args)
    from ops.training import MODEL_PATH, is_current

    if not is_current():
        print("the trained model is missing or stale: run `make train` first", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _stop)
    workdir = Path(tempfile.mkdtemp(prefix="unisono-bench-"))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    result = _new_result(plan, MODEL_PATH)
    measured: dict[str, dict[str, Any]] = {}
    failed = False
    try:
        _measure(plan, args.out_dir, workdir, result, measured)
    except KeyboardInterrupt:
        log("interrupted: stopping everything")
        failed = True
        return 130
    except Exception as error:  # noqa: BLE001 - report what was measured, and why the rest was not
        failed = True
        result["errors"].append(f"{type(error).__name__}: {error}")
        log(f"failed: {error}")
    finally:
        _clean_up(workdir, keep=args.keep or failed)

    assemble(result, measured, plan.levels)
    result["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    result["duration_s"] = round(time.monotonic() - started, 1)
    result["problems"] = report.problems(result)
    path = _write(result, args.out_dir, args.smoke)
    print(summary(result, path))
    return 1 if result["problems"] or result["errors"] else 0


def summary(result: dict[str, Any], path: Path) -> str:
    lines = [f"bench ({result['mode']}) in {result['duration_s']} s -> {path}"]
    for n, row in sorted(result.get("latency", {}).items(), key=lambda item: int(item[0])):
        for target in report.TARGETS:
            s = row[target]
            lines.append(f"  N={n:>2} {target:5}  p50 {s['p50_ms']:7.1f} ms  p95 {s['p95_ms']:7.1f} ms  "
                         f"p99 {s['p99_ms']:7.1f} ms  {s['msgs_per_s']:6.2f} msg/s  ({s['messages']} messages)")
    lines.append(f"  ratio p50 ours/plain {result.get('ratio_p50')}, throughput {result.get('ratio_throughput')} "
                 f"(N={result.get('ratio_at_n')})")
    lines.append(f"  store ms/msg {result.get('store_ms_per_msg')}; overhead ours-plain {result.get('overhead_ms')}")
    lines.append(f"  breakdown ms {result.get('breakdown_ms')}")
    lines.append(f"  rss MB {result.get('rss_detail')}; checks {result.get('checks')}")
    for problem in result["problems"] + result["errors"]:
        lines.append(f"  PROBLEM: {problem}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
