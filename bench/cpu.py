"""Who used the cores during a load run: CPU seconds per process group and for the whole machine.

Read from /proc (psutil is not a dependency). A sample is taken before and after a run; the
difference divided by the run's wall time is the number of cores that group kept busy. The
machine's total includes everything else on it (PostgreSQL, Redis, another person's test).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Optional

TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (0 when it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2:].split()  # after "pid (comm) ": state is field 3
    return (int(fields[11]) + int(fields[12])) / TICKS


def tree(pid: int) -> list[int]:
    """`pid` and its descendants (a replica is `python -m ops.quiet rasa run`, maybe with helpers)."""
    try:
        direct = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return [pid]
    return [pid] + [grand for child in direct for grand in tree(child)]


def named(names: Iterable[str]) -> list[int]:
    """Every process whose command name is one of `names` (postgres, redis-server)."""
    wanted, found = set(names), []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in wanted:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def machine_busy_s() -> float:
    """CPU seconds all cores spent not idle since boot (summed over cores)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    steal = fields[7] if len(fields) > 7 else 0
    return (sum(fields[:8]) - idle - steal) / TICKS


@dataclass
class Sample:
    groups: dict[str, float]
    machine: float


def sample(groups: Mapping[str, Iterable[int]]) -> Sample:
    """CPU seconds so far of each group of processes (their descendants included)."""
    return Sample({name: sum(process_cpu_s(p) for pid in pids for p in tree(pid)) for name, pids in groups.items()},
                  machine_busy_s())


def cores(before: Sample, after: Sample, wall_s: float, extra: Optional[Mapping[str, float]] = None) -> dict[str, float]:
    """Cores kept busy per group over `wall_s`; `other` is the machine's rest (not ours, not listed).

    A process that exited between the samples would look negative: clamped at 0.
    """
    if wall_s <= 0:
        return {}
    used = {name: max(0.0, after.groups.get(name, 0.0) - spent) for name, spent in before.groups.items()}
    used.update(extra or {})
    machine = max(0.0, after.machine - before.machine)
    result = {name: round(seconds / wall_s, 2) for name, seconds in used.items()}
    result["machine"] = round(machine / wall_s, 2)
    result["other"] = round(max(0.0, machine - sum(used.values())) / wall_s, 2)
    return result
