"""bench.cpu reads CPU time from /proc: what a process burns shows up, for it and for the machine."""
from __future__ import annotations

import os
import time

from bench import cpu


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_a_busy_process_shows_its_cpu_seconds_and_the_machine_at_least_as_many() -> None:
    groups = {"me": [os.getpid()]}
    before = cpu.sample(groups)
    began = time.perf_counter()
    _burn(0.3)
    wall = time.perf_counter() - began
    after = cpu.sample(groups)
    spent = after.groups["me"] - before.groups["me"]
    assert 0.25 <= spent <= wall + 0.05
    cores = cpu.cores(before, after, wall, {"generator": 0.0})
    assert cores["me"] == round(spent / wall, 2)  # below 1 when the machine is shared
    assert cores["machine"] >= cores["me"] - 0.05
    assert cores["other"] >= 0 and cores["generator"] == 0.0


def test_a_gone_process_counts_nothing_and_the_tree_starts_with_itself() -> None:
    assert cpu.process_cpu_s(2 ** 22 + 7) == 0.0  # above pid_max's default: no such process
    assert cpu.tree(os.getpid())[0] == os.getpid()
