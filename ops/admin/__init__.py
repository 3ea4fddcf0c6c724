"""The operator's area at `/admin/`: the KPI dashboard and its API (bot/kpis.py is the query layer).

    GET  /admin/                 the dashboard page (static; it asks for the token itself)
    GET  /admin/static/...       its script, styles and the vendored Chart.js
    POST /admin/api/sign-in      checks the token once per page load (audited as admin.sign_in)
    GET  /admin/api/kpis         ?since=ISO&until=ISO&business_hours=0|1 -> the figures as JSON
    GET  /admin/api/kpis.csv     the same, one row per channel (audited as kpis.export)
    GET  /admin/api/open         open hand-offs and tickets by the time left to their SLA

The API wants `Authorization: Bearer $ADMIN_TOKEN` (401 otherwise; compared in constant time).
Without ADMIN_TOKEN the whole area answers 404, as if it did not exist. The page itself holds no
data, so it is served to anyone once the token is set: a browser cannot send a header when it
navigates, so the page asks for the token, keeps it in sessionStorage (this tab only, gone when
it closes, never in a URL, a cookie or a log) and sends it with each API call; a cookie would
also have needed CSRF protection. Like ops/health.py, it is registered in credentials.yml as
an InputChannel whose prefix puts its routes at the server root.
"""
from ops.admin.channel import AdminInput

__all__ = ["AdminInput"]
