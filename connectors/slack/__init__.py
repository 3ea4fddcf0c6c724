"""The agents' desk in Slack: hand-offs become threads in the agents' channel.

endpoint.py  the webhook (/webhooks/slack/webhook) and bolt app: signatures, events, buttons, /resolve
desk.py      the desk itself: threads, claims, relays, CSAT, reminders, after-hours tickets
blocks.py    what agents and customers read (Block Kit summary, escaped customer text)
business.py  what the desk asks of the business (open orders and tickets, after-hours ticket)
sla_alerts.py  SLA warnings and breach alerts, each posted once (timers from bot/sla.py)

Its state lives in the core's store (bot/store/desk.py); credentials.yml names
`connectors.slack.SlackInput`.
"""
from connectors.slack.desk import SlackDesk, parse_csat, slack_to_plain
from connectors.slack.endpoint import SlackInput, SlackSettings, agent_reply, button_click, to_bolt_request

__all__ = [
    "SlackDesk", "SlackInput", "SlackSettings", "agent_reply", "button_click", "parse_csat", "slack_to_plain",
    "to_bolt_request",
]
