"""Command line: `python -m ops {setup,train,run,cluster,shell,contacts export|rectify|erase,audit}`.

`python -m bot ...` is the same command under its old name (bot/__main__.py delegates here).
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import re
import socket
import subprocess
import sys
from typing import Any, Optional

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
    elif args.action == "rectify":
        try:
            print(json.dumps(privacy.rectify(contact_id, name=args.name, email=args.email)))
        except ValueError as error:  # nothing to change, an invalid e-mail, another person's e-mail
            print(f"not rectified: {error}", file=sys.stderr)
            return 2
    else:
        counts = privacy.erase(contact_id)
        print(json.dumps({"erased_contact": contact_id, **counts}))
        slack = counts.get("slack") or {}
        if slack.get("retrying") or slack.get("refused"):
            print(f"Slack: {slack.get('retrying', 0)} message(s) will be deleted by the running desk's retries; "
                  f"{slack.get('refused', 0)} refused (agents' own replies: a workspace admin must delete them; "
                  "`contacts export` lists them under desk_copies)", file=sys.stderr)
    return 0


_SPAN = re.compile(r"(\d+)([mhdw])")


def since_time(text: str, now: Optional[dt.datetime] = None) -> dt.datetime:
    """"7d", "12h", "30m", "2w" ago, or an ISO date or time (UTC unless it says otherwise)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    span = _SPAN.fullmatch(text.strip())
    if span:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[span.group(2)]
        return now - dt.timedelta(**{unit: int(span.group(1))})
    moment = dt.datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def cmd_audit(args: argparse.Namespace) -> int:
    import json

    from bot import audit

    try:
        since, until = since_time(args.since), since_time(args.until) if args.until else None
    except ValueError:
        print("--since and --until take 7d, 12h, 30m, 2w or an ISO date such as 2026-12-01", file=sys.stderr)
        return 2
    found = audit.entries(since, until, who=args.who, contact_id=args.contact)
    if args.json:
        print(json.dumps(found, indent=2, ensure_ascii=False))
        return 0
    for entry in found:
        about = f"contact {entry['contact_id']}" if entry["contact_id"] is not None else "-"
        detail = json.dumps(entry["detail"], ensure_ascii=False, sort_keys=True) if entry["detail"] else ""
        print(f"{entry['at']}  {entry['actor']:<24} {entry['action']:<20} {about:<14} {detail}".rstrip())
    print(f"{len(found)} entr{'y' if len(found) == 1 else 'ies'} since {since.isoformat()}", file=sys.stderr)
    return 0


def _contacts_parser(sub: Any) -> None:
    contacts = sub.add_parser("contacts", help="a person's data: export it as JSON, rectify it, or erase it")
    contacts.add_argument("action", choices=["export", "rectify", "erase"])
    contacts.add_argument("contact", help="contact id, verified phone or email, or channel address")
    contacts.add_argument("--name", help="rectify: the correct name")
    contacts.add_argument("--email", help="rectify: the correct e-mail, verified by you (\"\" removes it)")
    contacts.set_defaults(func=cmd_contacts)


def _audit_parser(sub: Any) -> None:
    trail = sub.add_parser("audit", help="who did what with customers' data (the audit trail)")
    trail.add_argument("--since", default="7d", help="7d, 12h, 30m, 2w or an ISO date (default 7d)")
    trail.add_argument("--until", help="same forms; default now")
    trail.add_argument("--who", help="agent:U123, operator:ana, a bare id (U123), or a kind (agent:)")
    trail.add_argument("--contact", type=int, help="only entries about this contact id")
    trail.add_argument("--json", action="store_true", help="JSON instead of one line per entry")
    trail.set_defaults(func=cmd_audit)


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
    _contacts_parser(sub)
    _audit_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)
