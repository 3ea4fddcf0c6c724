"""Numbers from raw load runs, sanity checks, and the Markdown + PNG summaries of a bench run."""
from __future__ import annotations

import os
import platform
import re
import sys
from pathlib import Path
from typing import Any, Optional

TARGETS = ("ours", "plain")
SLO_MS = 1000.0  # capacity: the load at which p95 crosses one second


def percentiles(latencies: list[float]) -> dict[str, float]:
    import numpy as np

    if not latencies:
        return {"p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0, "mean_ms": 0.0}
    values = np.asarray(latencies, dtype=float)
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {"p50_ms": round(float(p50), 1), "p95_ms": round(float(p95), 1), "p99_ms": round(float(p99), 1),
            "mean_ms": round(float(values.mean()), 1)}


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One target at one concurrency, over its repetitions (latencies pooled, throughput overall)."""
    latencies = [x for run in runs for x in run["latencies_ms"]]
    messages = sum(run["messages"] for run in runs)
    wall = sum(run["wall_s"] for run in runs)
    return {
        **percentiles(latencies),
        "msgs_per_s": round(messages / wall, 2) if wall else 0.0,
        "messages": messages,
        "failed": sum(run["failed"] for run in runs),
        "without_reply": sum(run["without_reply"] for run in runs),
        "runs": len(runs),
    }


def capacity(latency: dict[str, dict[str, Any]], target: str) -> dict[str, Any]:
    """msgs/s where p95 crosses SLO_MS, interpolated linearly between measured concurrencies."""
    points = sorted((int(n), row[target]) for n, row in latency.items())
    previous: Optional[tuple[int, dict[str, Any]]] = None
    for n, row in points:
        if row["p95_ms"] > SLO_MS:
            if previous is None:
                return {"msgs_per_s": row["msgs_per_s"], "bound": "below",
                        "text": f"< {row['msgs_per_s']:.1f} msgs/s (p95 {row['p95_ms']:.0f} ms already at N={n})"}
            n0, row0 = previous
            share = (SLO_MS - row0["p95_ms"]) / (row["p95_ms"] - row0["p95_ms"])
            value = row0["msgs_per_s"] + share * (row["msgs_per_s"] - row0["msgs_per_s"])
            return {"msgs_per_s": round(value, 1), "bound": "interpolated",
                    "text": f"≈ {value:.1f} msgs/s (p95 crosses 1 s between N={n0} and N={n})"}
        previous = (n, row)
    if previous is None:
        return {"msgs_per_s": None, "bound": "none", "text": "not measured"}
    n, row = previous
    return {"msgs_per_s": row["msgs_per_s"], "bound": "above",
            "text": f"> {row['msgs_per_s']:.1f} msgs/s (p95 {row['p95_ms']:.0f} ms at N={n})"}


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return round(a / b, 3) if a and b else None


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        match = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = match.group(1).strip() if match else cpu
    except OSError:
        pass
    ram_gb = None
    try:
        match = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        ram_gb = round(int(match.group(1)) / 1024 / 1024, 1) if match else None
    except OSError:
        pass
    import rasa

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": ram_gb,
        "python": platform.python_version(),
        "rasa": rasa.__version__,
        "os": platform.platform(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def transcripts_agree(ours: dict[str, list], plain: dict[str, list]) -> bool:
    """Same model, same action server, same words: both servers must have said the same things."""
    def texts(conversation: list[dict[str, Any]]) -> list[list[str]]:
        return [[(r.get("text") or "") for r in turn["replies"]] for turn in conversation]

    return bool(ours) and ours.keys() == plain.keys() and all(texts(ours[k]) == texts(plain[k]) for k in ours)


def order_lookups_answered(transcripts: dict[str, list]) -> bool:
    """Each script's order question, once the email is given, is answered with that order's status."""
    for conversation in transcripts.values():
        asked = re.search(r"PED-\d{5}", conversation[2]["text"])
        answer = " ".join(r.get("text") or "" for r in conversation[3]["replies"])
        if not asked or asked.group(0) not in answer:
            return False
    return bool(transcripts)


def problems(result: dict[str, Any]) -> list[str]:
    """What makes a result unusable; empty when it is sane."""
    found = []
    latency = result.get("latency") or {}
    if not latency:
        found.append("no latency measured")
    for n, row in latency.items():
        for target in TARGETS:
            stats = row.get(target) or {}
            label = f"N={n} {target}"
            if stats.get("failed") or stats.get("without_reply"):
                found.append(f"{label}: {stats.get('failed')} failed, {stats.get('without_reply')} without reply")
            if not 0 < stats.get("p50_ms", 0) <= stats.get("p95_ms", 0) <= stats.get("p99_ms", 0):
                found.append(f"{label}: percentiles out of order or zero: {stats}")
            if not stats.get("msgs_per_s", 0) > 0:
                found.append(f"{label}: no throughput")
    checks = result.get("checks") or {}
    for name in ("replies_agree", "order_lookups_answered"):
        if checks.get(name) is not True:
            found.append(f"check {name} failed")
    store = (result.get("store_ms_per_msg") or {}).get("sqlite")
    if not store or store <= 0:
        found.append("no store cost for SQLite")
    return found


# -- Markdown ---------------------------------------------------------------------------------------
def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _ms(value: Any, digits: int = 1) -> str:
    return "–" if value is None else f"{_f(value, digits)} ms"


def _latency_table(latency: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "| N | ours p50 | ours p95 | ours p99 | ours msgs/s | plain p50 | plain p95 | plain p99 | plain msgs/s | p50 ours/plain |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in sorted(latency, key=int):
        o, p = latency[n]["ours"], latency[n]["plain"]
        lines.append(
            f"| {n} | {_f(o['p50_ms'], 0)} | {_f(o['p95_ms'], 0)} | {_f(o['p99_ms'], 0)} | {_f(o['msgs_per_s'])} "
            f"| {_f(p['p50_ms'], 0)} | {_f(p['p95_ms'], 0)} | {_f(p['p99_ms'], 0)} | {_f(p['msgs_per_s'])} "
            f"| {_f(ratio(o['p50_ms'], p['p50_ms']), 2)} |"
        )
    return lines


def _intro(result: dict[str, Any]) -> list[str]:
    m = result["machine"]
    return [
        "# unisono benchmark",
        "",
        f"Generated by `make bench` on {result['date']} ({result['mode']} run). "
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, Python {m['python']}, Rasa {m['rasa']}. "
        f"Load average at start {m['loadavg_start']}, at end {m.get('loadavg_end')}: on a shared machine, "
        "compare ours with plain (measured in the same run, alternated), not absolute figures across runs.",
        "",
        "**Ours** is the full stack (web chat channel → hub → conversation store → Rasa → store → outbox, "
        "our SQL tracker store); **plain** is `rasa run` with Rasa's REST channel and the in-memory "
        "tracker store. Same model, same action server, same scripted conversations "
        "(greeting, FAQ, order status with e-mail check, stock question, thanks; Spanish and English), "
        "each conversation a new person, messages sent back-to-back; latency is request to HTTP response "
        "with every reply in it. Runs alternate ours/plain (A B B A) at each concurrency N. "
        "Ours also runs `bot/rasa_tuning.py` (Rasa's check of action server responses with a validator "
        "built once; stock Rasa rebuilds it and re-checks its schema on every call), plain does not; "
        "the in-process breakdown below is stock Rasa.",
        "",
    ]


def _latency_sections(result: dict[str, Any]) -> list[str]:
    lines = [
        "## Latency and throughput (SQLite, the default store)",
        "",
        "Milliseconds; N = concurrent conversations.",
        "",
        *_latency_table(result["latency"]),
        "",
    ]
    if result.get("latency_postgresql"):
        lines += ["## Latency and throughput (PostgreSQL)", "", *_latency_table(result["latency_postgresql"]), ""]
    return lines


def _summary(result: dict[str, Any]) -> list[str]:
    cap = result.get("capacity") or {}
    return [
        "## Summary",
        "",
        "| | value |",
        "|---|---|",
        f"| p50 ratio ours/plain at N={result.get('ratio_at_n')} | {_f(result.get('ratio_p50'), 2)} |",
        f"| throughput ratio ours/plain at N={result.get('ratio_at_n')} | {_f(result.get('ratio_throughput'), 2)} |",
        f"| capacity, ours (p95 ≤ 1 s) | {cap.get('ours', {}).get('text', '–')} |",
        f"| capacity, plain (p95 ≤ 1 s) | {cap.get('plain', {}).get('text', '–')} |",
        f"| training time (`rasa train --force`, full model, empty cache) | "
        f"{'–' if result.get('train_seconds') is None else _f(result['train_seconds'], 0) + ' s'} |",
        f"| resident memory after the run, ours / plain / action server | "
        f"{_f(result.get('rss_mb'), 0)} / {_f((result.get('rss_detail') or {}).get('plain'), 0)} / "
        f"{_f((result.get('rss_detail') or {}).get('actions'), 0)} MB |",
        "",
    ]


_STAGES = {
    "nlu": "`Agent.parse_message`, in-process",
    "policies_actions": "`Agent.handle_text` minus NLU (includes the action server calls)",
    "action_server_call": "one POST to the action server (`action_detect_language`, run on every message)",
    "action_server_call_order": "one POST to the action server (`action_check_order`, with the database lookup)",
    "store": "our store operations per message (SQLite), outbox excluded",
    "rendering": "`Outbound.from_rasa` + `to_json` of the replies",
    "outbox": "`Outbox.deliver` with the web chat sender (marks the replies sent)",
}


def _breakdown(result: dict[str, Any]) -> list[str]:
    breakdown = result.get("breakdown_ms") or {}
    if not breakdown:
        return []
    lines = ["## Where the time of one message goes (N=1, mean ms per message)", "",
             "| stage | ms | how |", "|---|---:|---|"]
    for stage, text in _STAGES.items():
        if stage in breakdown:
            lines.append(f"| {stage} | {_f(breakdown[stage], 2)} | {text} |")
    lines.append("")
    return lines


def _store_cost(result: dict[str, Any]) -> list[str]:
    store = result.get("store_ms_per_msg") or {}
    overhead = result.get("overhead_ms") or {}
    n = overhead.get("n", 1)
    lines = ["## What our store costs per message", "",
             f"| database | store ops + outbox (micro-benchmark) | ours − plain, p50 at N={n} | ours − plain, mean at N={n} |",
             "|---|---:|---:|---:|"]
    for kind in ("sqlite", "postgresql"):
        o = overhead.get(kind) or {}
        lines.append(f"| {kind} | {_ms(store.get(kind), 2)} | {_ms(o.get('p50'))} | {_ms(o.get('mean'))} |")
    lines += ["", f"The difference at N={n} also holds what the web chat route and our tracker store (SQL instead "
              "of in-memory) add; the micro-benchmark times only the hub's store calls (each its own "
              "transaction, as the hub makes them), on a fresh database, without Rasa.", ""]
    return lines + _store_operations(result.get("store_ops_ms") or {})


def _store_operations(ops: dict[str, dict[str, float]]) -> list[str]:
    if not ops:
        return []
    names = sorted({name for per_db in ops.values() for name in per_db})
    kinds = [k for k in ("sqlite", "postgresql") if k in ops]
    lines = ["Per operation (ms per message; outbox and rendering are not store operations):", "",
             "| operation | " + " | ".join(kinds) + " |", "|---|" + "---:|" * len(kinds)]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(_f(ops[k].get(name), 3) for k in kinds) + " |")
    lines.append("")
    return lines


def _nlu_quality(nlu: Optional[dict[str, Any]]) -> list[str]:
    if not nlu:
        return []
    folds = nlu.get("folds")
    how = f"{folds}-fold stratified cross-validation" if folds and folds > 1 else "One stratified 80/20 split"
    cached = " Cached from an earlier `python -m bench.nlu_quality` run, not measured in this one." if nlu.get("cached") else ""
    lines = ["## NLU quality (intent macro-F1)", "",
             f"{how} per language, the same split for both systems; `unseen` are the independently "
             f"written test sets tests/nlu/unseen_*.yml, `blind` the sets tests/nlu/blind_*.yml written "
             f"without sight of the training data; both scored with the model trained on all of it.{cached}", "",
             "| system | both | es | en | unseen es | unseen en | blind es | blind en |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for system, label in (("ours", "ours (config.yml pipeline)"), ("baseline", "TF-IDF + logistic regression")):
        s = nlu.get(system) or {}
        lines.append(f"| {label} | {_f(s.get('f1'), 3)} | {_f(s.get('f1_es'), 3)} | {_f(s.get('f1_en'), 3)} "
                     f"| {_f(s.get('f1_unseen_es'), 3)} | {_f(s.get('f1_unseen_en'), 3)} "
                     f"| {_f(s.get('f1_blind_es'), 3)} | {_f(s.get('f1_blind_en'), 3)} |")
    faq = (nlu.get("ours") or {}).get("faq_answer_right_blind") or {}
    if faq:
        lines += ["", "Right FAQ answer on the blind sets' FAQ questions (ours): "
                  + ", ".join(f"{lang} {right}/{total}" for lang, (right, total) in sorted(faq.items())) + "."]
    tickets = (nlu.get("ours") or {}).get("problems_to_tickets_blind") or {}
    if tickets:
        lines += ["", "Problem statements in the blind sets that start the ticket flow (ours; target 95 %): "
                  + ", ".join(f"{lang} {n}/{total}" for lang, (n, total) in sorted(tickets.items())) + "."]
    lines.append("")
    return lines


def markdown(result: dict[str, Any]) -> str:
    """bench/results/latest.md: the run's figures, section by section."""
    lines = _intro(result) + _latency_sections(result) + _summary(result) + _breakdown(result)
    lines += _store_cost(result) + _nlu_quality(result.get("nlu"))
    if result.get("replicas"):
        from bench.replicas import markdown_section

        lines += markdown_section(result["replicas"])
    if result.get("kpis"):
        from bench import kpis

        lines += kpis.markdown_section(result["kpis"])
    if result.get("errors"):
        lines += ["## Problems in this run", "", *[f"- {e}" for e in result["errors"]], ""]
    lines += ["![latency against concurrency](latency.png)", ""]
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator

    panels = [("SQLite", result["latency"])]
    if result.get("latency_postgresql"):
        panels.append(("PostgreSQL", result["latency_postgresql"]))
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.5), sharey=True, squeeze=False)
    colours = {"p50_ms": "tab:blue", "p95_ms": "tab:orange", "p99_ms": "tab:red"}
    for ax, (title, latency) in zip(axes[0], panels):
        levels = sorted(latency, key=int)
        xs = [int(n) for n in levels]
        for key, colour in colours.items():
            for target, style in (("ours", "-"), ("plain", "--")):
                ax.plot(xs, [latency[n][target][key] for n in levels], style, color=colour, marker="o",
                        label=f"{target} {key[:-3]}")
        ax.axhline(SLO_MS, color="grey", linewidth=0.8, linestyle=":", label="1 s (capacity threshold)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticks(xs)
        ax.set_xticklabels([str(x) for x in xs])
        ax.set_xlabel("concurrent conversations (N)")
        ax.set_title(f"{title}: ours (solid) vs plain Rasa (dashed)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("latency per message (ms)")
    axes[0][0].legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)
