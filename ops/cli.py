"""Command line: `python -m ops {setup,train,run,cluster,shell,contacts export|erase,kpis}`.

`python -m bot ...` is the same command under its old name (bot/__main__.py delegates here).
"""
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
    from bot import config
    from ops import migrate, seed

    url = config.database_url()
    migrate.upgrade(url)
    print("demo data seeded" if seed.seed(url) else "database ready")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from ops import training

    training.train(force=args.force)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from ops import runner

    return runner.run()


def cmd_cluster(args: argparse.Namespace) -> int:
    from ops import cluster

    return cluster.main(check_only=args.check)


def cmd_shell(args: argparse.Namespace) -> int:
    from bot.config import ROOT
    from ops import runner
    from ops.training import MODEL_PATH

    env = runner._env()
    helper = None
    if not _port_open(5055):
        helper = subprocess.Popen(runner.action_server_command(5055), cwd=ROOT, env=env)
    try:
        return subprocess.call(
            [sys.executable, "-m", "ops.quiet", "rasa", "shell", "--model", str(MODEL_PATH),
             "--endpoints", "endpoints.yml", "--port", "5006"],
            cwd=ROOT, env=env,
        )
    finally:
        if helper is not None:
            helper.terminate()
            helper.wait(timeout=10)


def cmd_contacts(args: argparse.Namespace) -> int:
    import json

    from ops import privacy

    contact_id = privacy.find_contact(args.contact)
    if contact_id is None:
        print(f"no contact matches {args.contact!r}", file=sys.stderr)
        return 1
    if args.action == "export":
        print(json.dumps(privacy.export(contact_id), indent=2, ensure_ascii=False))
    else:
        print(json.dumps({"erased_contact": contact_id, **privacy.erase(contact_id)}))
    return 0


def cmd_kpis(args: argparse.Namespace) -> int:
    import json

    from bot import kpis
    from ops.admin.terminal import table

    try:
        period = kpis.period(args.since, args.until, args.business_hours)
    except kpis.BadPeriod as error:
        print(f"kpis: {error}", file=sys.stderr)
        return 2
    result = kpis.figures(period)
    print(json.dumps(result, indent=2, ensure_ascii=False) if args.json else table(result))
    return 0


def _kpis_parser(sub: argparse._SubParsersAction) -> None:
    kpis = sub.add_parser("kpis", help="the service's KPIs per channel (the admin dashboard's figures)")
    kpis.add_argument("--since", default="7d", help="start: 7d, 24h, a date (service time zone) or ISO time")
    kpis.add_argument("--until", help="end (default now), same forms")
    kpis.add_argument("--business-hours", action="store_true", help="durations in opening hours only")
    kpis.add_argument("--json", action="store_true", help="the admin API's JSON instead of a table")
    kpis.set_defaults(func=cmd_kpis)


def main(argv: list[str] | None = None, prog: str = "python -m ops") -> int:
    """Parses `argv` and runs the verb; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog=prog, description="unisono assistant")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup", help="create, migrate and seed the database").set_defaults(func=cmd_setup)
    train = sub.add_parser("train", help="train the model if its inputs changed")
    train.add_argument("--force", action="store_true")
    train.set_defaults(func=cmd_train)
    sub.add_parser("run", help="start the action server and the Rasa server").set_defaults(func=cmd_run)
    sub.add_parser("shell", help="chat in the terminal").set_defaults(func=cmd_shell)
    cluster = sub.add_parser("cluster", help="REPLICAS replicas behind HAProxy on PORT (PostgreSQL and Redis)")
    cluster.add_argument("--check", action="store_true", help="only check the environment (exit 2 if unfit)")
    cluster.set_defaults(func=cmd_cluster)
    contacts = sub.add_parser("contacts", help="a person's data: export it as JSON, or erase it")
    contacts.add_argument("action", choices=["export", "erase"])
    contacts.add_argument("contact", help="contact id, verified phone or email, or channel address")
    contacts.set_defaults(func=cmd_contacts)
    _kpis_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)
