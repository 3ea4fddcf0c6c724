"""Command line: `python -m ops {setup,train,run,cluster,shell,contacts export|rectify|erase,audit,kpis,orders event,notices}`.

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
    _contacts_parser(sub)
    _audit_parser(sub)
    _kpis_parser(sub)
    _order_commands(sub)
    args = parser.parse_args(argv)
    return args.func(args)
