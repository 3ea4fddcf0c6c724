"""The KPIs as a terminal table (`python -m ops kpis`): the dashboard's figures, one column per channel."""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Optional
from zoneinfo import ZoneInfo

from bot.kpis import ALL, CHANNELS


def seconds(value: Optional[float]) -> str:
    """12.5 s, 4m05s, 11h09m; "-" when there is no value."""
    if value is None:
        return "-"
    value = abs(value)
    if value < 60:
        return f"{value:.1f} s"
    if value < 3600:
        minutes, rest = divmod(int(round(value)), 60)
        return f"{minutes}m{rest:02d}s"
    hours, minutes = divmod(int(round(value / 60)), 60)
    return f"{hours}h{minutes:02d}m"


def _percent(value: Optional[float]) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


Row = tuple[str, Callable[[dict[str, Any]], str]]
ROWS: list[Row] = [
    ("Sessions", lambda k: str(k["sessions"])),
    ("Contained", lambda k: f"{k['contained']} ({_percent(k['containment_rate'])})"),
    ("Hand-offs", lambda k: f"{k['handoffs']} ({_percent(k['handoff_rate'])})"),
    ("Abandoned hand-offs", lambda k: str(k["abandoned"])),
    *[(f"{label} {stat}", (lambda key, stat: lambda k: seconds(k[key][stat]))(key, stat))
      for label, key in (("First response, bot", "first_response_bot_s"),
                         ("First response, agent", "first_response_human_s"), ("Resolution", "resolution_s"))
      for stat in ("p50", "p90", "mean")],
    ("CSAT sent / answered", lambda k: f"{k['csat']['sent']} / {k['csat']['responses']}"),
    ("CSAT mean", lambda k: "-" if k["csat"]["mean"] is None else f"{k['csat']['mean']:.2f}"),
    ("CSAT score (4-5)", lambda k: "-" if k["csat"]["score"] is None else f"{k['csat']['score']:.1f} %"),
    ("Not understood", lambda k: f"{k['fallback_messages']}/{k['customer_messages']} ({_percent(k['fallback_rate'])})"),
    ("SLA warned / breached", lambda k: f"{k['sla']['warned']} / {k['sla']['breached']}"),
]


def _local(iso: str, zone: ZoneInfo) -> str:
    return dt.datetime.fromisoformat(iso).astimezone(zone).strftime("%Y-%m-%d %H:%M")


def table(result: dict[str, Any]) -> str:
    """The figures of bot.kpis.figures() as aligned text."""
    zone = ZoneInfo(result["time_zone"])
    clock = "business hours" if result["business_hours"] else "wall-clock"
    title = f"KPIs {_local(result['since'], zone)} -> {_local(result['until'], zone)} ({result['time_zone']}, {clock})"
    columns = (*CHANNELS, ALL)
    cells = [["", *columns]] + [[label, *(show(result["channels"][c]) for c in columns)] for label, show in ROWS]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns) + 1)]
    lines = [title, ""]
    for number, row in enumerate(cells):
        lines.append("  ".join(cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)))
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    words = result["channels"][ALL]["not_understood"]
    if words:
        lines += ["", "Not understood most often:"] + [f"  {w['count']:>4}  {w['text']}" for w in words]
    return "\n".join(lines)
