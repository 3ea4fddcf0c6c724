"""Command line: `python -m ops {setup,train,run,cluster,shell,contacts export|erase,orders event,notices}`.

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


def cmd_orders(args: argparse.Namespace) -> int:
    """`orders event PED-10235 delayed --reason weather --expected-date 2026-12-12`: the same event
    the ERP would post to /api/v1/order-events; the running server sends its notice."""
    import datetime as dt
    import json
    import uuid

    from bot.store.notices import OrderEvent
    from ops import notices

    event = OrderEvent(
        event_id=args.event_id or f"cli-{uuid.uuid4().hex}", order_id=args.order_id.upper(), type=args.type,
        reason=args.reason, expected_date=dt.date.fromisoformat(args.expected_date) if args.expected_date else None,
        carrier=args.carrier, tracking_number=args.tracking_number,
    )
    recorded = notices.raise_event(event, "cli")
    if recorded is None:
        print(f"unknown order {event.order_id}", file=sys.stderr)
        return 1
    status = "accepted" if recorded.new else "duplicate"
    print(json.dumps({"status": status, "event_id": event.event_id, "notices": len(recorded.notices)}))
    return 0


def cmd_notices(args: argparse.Namespace) -> int:
    """Notices sent, delivered, read, refused, failed and opt-outs per day and channel."""
    import json

    from ops import notices

    try:
        since = notices.parse_since(args.since)
    except ValueError as error:
        print(str(error), file=sys.stderr)
        return 2
    days = notices.report(since)
    print(json.dumps([d.to_json() for d in days], indent=2) if args.json else notices.table(days))
    return 0


def _order_commands(sub: argparse._SubParsersAction) -> None:
    from bot.store.notices import EVENT_TYPES

    orders = sub.add_parser("orders", help="order events: raise one as the ERP would")
    verbs = orders.add_subparsers(dest="verb", required=True)
    event = verbs.add_parser("event", help="raise an order event (its notice goes to the order's owner)")
    event.add_argument("order_id")
    event.add_argument("type", choices=EVENT_TYPES)
    event.add_argument("--reason", help="a delay code (weather, stock_transfer, ...) or logistics' words")
    event.add_argument("--expected-date", help="YYYY-MM-DD")
    event.add_argument("--carrier")
    event.add_argument("--tracking-number")
    event.add_argument("--event-id", help="the event's id (default: a new one); the same id is raised once")
    event.set_defaults(func=cmd_orders)
    report = sub.add_parser("notices", help="order notices per day and channel")
    report.add_argument("--since", default="7d", help="how far back: 7d, 24h, 2w (default 7d)")
    report.add_argument("--json", action="store_true", help="JSON instead of a table")
    report.set_defaults(func=cmd_notices)


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
    _order_commands(sub)
    args = parser.parse_args(argv)
    return args.func(args)
