"""What the Slack desk shows (connectors/slack/blocks.py): customer text is escaped, never parsed."""
from __future__ import annotations

import json

from connectors.slack.blocks import Summary, escape, summary_blocks
from connectors.slack.desk import slack_to_plain


def test_customer_text_is_escaped_in_the_summary_and_agents_markup_is_plain_for_customers() -> None:
    summary = Summary("c-1", "<!channel> Ana & co", "whatsapp", "es", messages=(("customer", "hey <!channel> <@U123>"),))
    text = json.dumps(summary_blocks(summary, "waiting_agent"), ensure_ascii=False)
    assert "<!channel>" not in text and "<@U123>" not in text
    assert "&lt;!channel&gt; Ana &amp; co" in text and "&lt;@U123&gt;" in text
    assert all(b["text"]["verbatim"] for b in summary_blocks(summary, "waiting_agent") if b["type"] == "section")
    assert escape("a<b>&c") == "a&lt;b&gt;&amp;c"
    assert slack_to_plain("Ve &lt;aquí&gt; &amp; <https://x.test/a|la guía> o <https://x.test/b>") == (
        "Ve <aquí> & la guía (https://x.test/a) o https://x.test/b"
    )
