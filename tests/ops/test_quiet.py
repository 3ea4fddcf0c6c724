"""`python -m ops.quiet MODULE ARGS` runs the module as `python -m` would, minus deprecation noise,
with every log line naming its replica."""
from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from bot import log_privacy
from bot.config import ROOT
from ops import quiet

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


LOGGING = '''
import logging, sys
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stdout)
logging.getLogger("probe").info("order %s from %s: 100%% ready", "PED-10234", "+5215512345678")
logging.getLogger("probe").info("plain line")
'''


def test_every_log_line_carries_the_replica_name_and_stays_masked(tmp_path: Path) -> None:
    (tmp_path / "logging_module.py").write_text(LOGGING)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]), "REPLICA_NAME": "replica-7"}
    done = subprocess.run([sys.executable, "-m", "ops.quiet", "logging_module"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "INFO probe: [replica-7] order PED-10234 from [phone]: 100% ready",
        "INFO probe: [replica-7] plain line",
    ]


def test_without_replica_name_the_host_and_pid_name_the_process(tmp_path: Path) -> None:
    (tmp_path / "logging_module.py").write_text(LOGGING)
    env = {k: v for k, v in os.environ.items() if k != "REPLICA_NAME"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), str(ROOT)])
    done = subprocess.run([sys.executable, "-m", "ops.quiet", "logging_module"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(rf"INFO probe: \[{re.escape(socket.gethostname())}-\d+\] plain line", done.stdout.splitlines()[1])


def test_the_tag_chains_the_mask_and_installing_either_again_wraps_nothing() -> None:
    factory = logging.getLogRecordFactory()
    try:
        log_privacy.install()
        quiet.tag_replica("replica-3")
        tagged = logging.getLogRecordFactory()
        log_privacy.install()
        quiet.tag_replica("replica-3")
        assert logging.getLogRecordFactory() is tagged
        record = logging.getLogger("probe").makeRecord("probe", logging.INFO, __file__, 1, "to %s", ("a@b.example",), None)
        assert record.getMessage() == "[replica-3] to [email]"
    finally:
        logging.setLogRecordFactory(factory)
