"""The admin area's routes (see ops/admin/__init__.py): token check, parameters, JSON and CSV."""
from __future__ import annotations

import csv
import hmac
import io
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.exceptions import NotFound
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import audit, config, db, kpis

STATIC = Path(__file__).resolve().parent / "static"
# The only files served from static/, with their types: nothing else there is reachable.
FILES = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "vendor/chart.umd.js": "text/javascript; charset=utf-8",
}
ACTOR = "admin:token"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
NO_STORE = {"Cache-Control": "no-store", **SECURITY_HEADERS}

Handler = Callable[[Request], Awaitable[HTTPResponse]]


def admin_token() -> Optional[str]:
    """ADMIN_TOKEN, read on every request (None: the admin area does not exist)."""
    return (config.get("ADMIN_TOKEN") or "").strip() or None


def authorized(request: Request, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time."""
    scheme, _, given = (request.headers.get("authorization") or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


async def audit_event(action: str, detail: Optional[dict[str, Any]] = None) -> None:
    """The admin's action in the audit trail (bot/audit.py), as the token's holder."""
    await db.call(audit.record, ACTOR, action, None, detail)


def _area(handler: Handler, api: bool = True) -> Handler:
    """404 without ADMIN_TOKEN; for the API, 401 without the right bearer token."""

    async def guarded(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
        token = admin_token()
        if token is None:
            raise NotFound(f"Requested URL {request.path} not found")
        if api and not authorized(request, token):
            return response.json({"error": "unauthorized", "message": "send Authorization: Bearer <ADMIN_TOKEN>"},
                                 status=401, headers={"WWW-Authenticate": 'Bearer realm="admin"', **NO_STORE})
        return await handler(request, *args, **kwargs)

    return guarded


def bad_request(error: kpis.BadPeriod) -> HTTPResponse:
    return response.json({"error": "bad_request", "field": error.field, "message": str(error)}, status=400,
                         headers=NO_STORE)


async def _figures(request: Request) -> dict[str, Any]:
    """The figures the query string asks for (raises BadPeriod)."""
    args = request.args
    period = kpis.period(args.get("since"), args.get("until"), args.get("business_hours"))
    return await db.call(kpis.figures, period)


async def kpis_json(request: Request) -> HTTPResponse:
    try:
        return response.json(await _figures(request), headers=NO_STORE)
    except kpis.BadPeriod as error:
        return bad_request(error)


def csv_text(result: dict[str, Any]) -> str:
    """The figures as CSV, one row per channel: numbers and channel names only, no customer text."""
    rows = kpis.rows(result)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    return out.getvalue()


async def kpis_csv(request: Request) -> HTTPResponse:
    try:
        result = await _figures(request)
    except kpis.BadPeriod as error:
        return bad_request(error)
    await audit_event("kpis.export", {"since": result["since"], "until": result["until"],
                                      "business_hours": result["business_hours"]})
    name = f"kpis-{result['since'][:10]}-{result['until'][:10]}.csv"
    return response.text(csv_text(result), content_type="text/csv; charset=utf-8",
                         headers={"Content-Disposition": f'attachment; filename="{name}"', **NO_STORE})


async def open_now(request: Request) -> HTTPResponse:
    now = db.utcnow()
    items = await db.call(kpis.open_items, now)
    return response.json({"now": now.isoformat(), "items": items}, headers=NO_STORE)


async def sign_in(request: Request) -> HTTPResponse:
    """The page checks its token once when it loads: that is the sign-in the audit trail records."""
    await audit_event("admin.sign_in")
    return response.empty(status=204, headers=NO_STORE)


async def page(request: Request) -> HTTPResponse:
    return response.html((STATIC / "index.html").read_text(encoding="utf-8"),
                         headers={"Cache-Control": "no-cache", **SECURITY_HEADERS})


async def static(request: Request, name: str) -> HTTPResponse:
    if name not in FILES:
        raise NotFound(f"Requested URL {request.path} not found")
    return response.raw((STATIC / name).read_bytes(), content_type=FILES[name],
                        headers={"Cache-Control": "public, max-age=3600", **SECURITY_HEADERS})


class AdminInput(InputChannel):
    """The /admin area at the server root, registered through credentials.yml like a channel."""

    @classmethod
    def name(cls) -> Text:
        return "admin"

    def url_prefix(self) -> Text:
        return "/"  # Rasa joins it to /webhooks/: "/" means the root

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("unisono_admin", __name__)
        bp.add_route(_area(page, api=False), "/admin", methods=["GET"], name="admin_page", strict_slashes=False)
        bp.add_route(_area(static, api=False), "/admin/static/<name:path>", methods=["GET"], name="admin_static")
        bp.add_route(_area(sign_in), "/admin/api/sign-in", methods=["POST"], name="admin_sign_in")
        bp.add_route(_area(kpis_json), "/admin/api/kpis", methods=["GET"], name="admin_kpis")
        bp.add_route(_area(kpis_csv), "/admin/api/kpis.csv", methods=["GET"], name="admin_kpis_csv")
        bp.add_route(_area(open_now), "/admin/api/open", methods=["GET"], name="admin_open")
        return bp
