"""Command line: `python -m bot {setup,train,run,shell}`."""
from __future__ import annotations

import argparse
import logging
import os
import socket
import subprocess
import sys

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def cmd_setup(args: argparse.Namespace) -> int:
    from bot import config, migrate, seed

    url = config.database_url()
    migrate.upgrade(url)
    print("demo data seeded" if seed.seed(url) else "database ready")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from bot import training

    training.train(force=args.force)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from bot import runner

    return runner.run()


def cmd_shell(args: argparse.Namespace) -> int:
    from bot import runner
    from bot.config import ROOT
    from bot.training import MODEL_PATH

    env = runner._env()
    helper = None
    if not _port_open(5055):
        helper = subprocess.Popen(runner.action_server_command(5055), cwd=ROOT, env=env)
    try:
        return subprocess.call(
            [sys.executable, "-m", "rasa", "shell", "--model", str(MODEL_PATH),
             "--endpoints", "endpoints.yml", "--port", "5006"],
            cwd=ROOT, env=env,
        )
    finally:
        if helper is not None:
            helper.terminate()
            helper.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m bot", description="unisono assistant")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup", help="create, migrate and seed the database").set_defaults(func=cmd_setup)
    train = sub.add_parser("train", help="train the model if its inputs changed")
    train.add_argument("--force", action="store_true")
    train.set_defaults(func=cmd_train)
    sub.add_parser("run", help="start the action server and the Rasa server").set_defaults(func=cmd_run)
    sub.add_parser("shell", help="chat in the terminal").set_defaults(func=cmd_shell)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
