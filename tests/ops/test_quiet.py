"""`python -m ops.quiet MODULE ARGS` runs the module as `python -m` would, minus deprecation noise."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot.config import ROOT

NOISY = '''
import sys, warnings
warnings.simplefilter("default")  # what Sanic and aiogram do to the filters while they load
warnings.warn("deprecated-thing", DeprecationWarning)
warnings.warn("pending-thing", PendingDeprecationWarning)
warnings.warn("config-problem", UserWarning)
print("argv", sys.argv[1:], __name__)
'''


def _run(tmp_path: Path, *command: str) -> subprocess.CompletedProcess:
    (tmp_path / "noisy_module.py").write_text(NOISY)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    return subprocess.run([sys.executable, *command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)


def test_deprecations_are_dropped_other_warnings_and_arguments_pass(tmp_path: Path) -> None:
    plain = _run(tmp_path, "-m", "noisy_module", "run", "--port", "5005")
    quiet = _run(tmp_path, "-m", "ops.quiet", "noisy_module", "run", "--port", "5005")

    assert "deprecated-thing" in plain.stderr and "pending-thing" in plain.stderr  # the control
    assert quiet.returncode == 0, quiet.stderr
    assert "deprecated-thing" not in quiet.stderr and "pending-thing" not in quiet.stderr
    assert "config-problem" in quiet.stderr
    assert quiet.stdout == plain.stdout == "argv ['run', '--port', '5005'] __main__\n"


def test_without_a_module_it_says_how_to_call_it(tmp_path: Path) -> None:
    done = _run(tmp_path, "-m", "ops.quiet")
    assert done.returncode != 0 and "usage: python -m ops.quiet MODULE" in done.stderr
