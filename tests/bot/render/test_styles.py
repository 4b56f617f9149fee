"""Styles and templates: every style and any template, for random hostile stories, stays
within Slack's and Discord's limits (as the fakes check every message) and mentions no one."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.render.discord_embeds import render_discord
from bot.render.plain import format_digest
from bot.render.slack_blocks import render_slack
from handlers.digest import Digest
from handlers.story import DigestItem, StoryCopy
from handlers.styles import PLACEHOLDERS, Style, TemplateError, check_template
from tests.bot.render.test_render import NASTY, digests
from tests.fakes.discord_api import check_message
from tests.fakes.slack_api import check_call

NOW = datetime(2026, 12, 5, 9, tzinfo=UTC)
pieces = st.one_of(
    st.sampled_from([f"{{{name}}}" for name in PLACEHOLDERS]),
    st.sampled_from([*NASTY[:10], "**", "<@&1>", "<#C1|x>", "{unknown", "}", " — "]),
    st.text(max_size=60),
)


def valid(text: str) -> bool:
    try:
        check_template(text)
    except TemplateError:
        return False
    return len(text) <= 500


templates = st.lists(pieces, min_size=1, max_size=30).map("".join).filter(valid)
styles = st.one_of(
    st.sampled_from([Style("standard"), Style("compact"), Style("headlines")]),
    templates.map(lambda text: Style("template", check_template(text))),
)


@st.composite
def styled_digests(draw: st.DrawFn) -> Digest:
    return draw(digests(style=draw(styles)))


def _slack_mentions(text: str) -> list[str]:
    """Every `<…>` that is not one of newsbot's own links."""
    return [m for m in re.findall(r"<[^>]*>?", text) if not m.startswith(("<http", "<https"))]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(styled_digests())
def test_every_style_stays_within_slacks_limits_and_mentions_no_one(digest: Digest) -> None:
    for payload in render_slack(digest):
        body = {**payload, "channel": "C1", "blocks": json.dumps(payload["blocks"])}
        assert check_call("chat.postMessage", body) == []
        for block in payload["blocks"]:
            if block["type"] == "header":
                continue  # plain_text: Slack parses no mention in it
            text = (block.get("text") or {}).get("text", "")
            texts = [text, *(e.get("text", "") for e in block.get("elements", []))]
            for shown in texts:
                assert _slack_mentions(shown) == [], shown[:200]
    sections = [b for p in render_slack(digest) for b in p["blocks"] if b["type"] == "section"]
    assert len(sections) == len(digest.items), "every story once"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(styled_digests())
def test_every_style_stays_within_discords_limits_and_mentions_no_one(digest: Digest) -> None:
    embeds = 0
    for payload in render_discord(digest):
        assert check_message(payload) == []
        for embed in payload["embeds"]:
            embeds += 1
            for text in (embed.get("title", ""), embed.get("description", "")):
                assert "@everyone" not in text and "@here" not in text
                assert not re.search(r"<[@#&]", text), text[:200]
    assert embeds == len(digest.items), "every story once"


def item(**fields: object) -> DigestItem:
    other = StoryCopy("c", "Other", "https://npr.example/x", "NPR", "f2", NOW, NOW)
    values: dict[str, object] = {
        "id": "a" * 16,
        "title": "Rates *rise* <!channel>",
        "url": "https://wire.example/rates",
        "source": "Wire",
        "published": NOW,
        "summary": "Central bank raises rates. @everyone panic.",
        "also": (other,),
        "story_id": "a" * 16,
    }
    return DigestItem(**(values | fields))  # type: ignore[arg-type]


def test_a_template_fills_every_placeholder_escaped_for_each_platform() -> None:
    template = "*{title}* ({source}, {outlets} outlets, also {also}) {time}\n{summary}\n{link}"
    style = Style("template", check_template(template))
    digest = Digest("News", (item(),), NOW, style=style)
    [slack] = render_slack(digest)
    text = slack["blocks"][1]["text"]["text"]
    assert text.startswith("*Rates *rise* &lt;!channel&gt;* (Wire, 2 outlets, also NPR)")
    assert "2026-12-05 09:00 UTC" in text and text.endswith("<https://wire.example/rates>")
    assert slack["blocks"][1]["accessory"]["type"] == "overflow", "actions in every style"
    [discord] = render_discord(digest)
    description = discord["embeds"][0]["description"]
    assert "Rates \\*rise\\*" in description and "@\u200beveryone" in description
    assert description.endswith("https://wire.example/rates")


def test_compact_and_headlines_leave_out_what_they_say() -> None:
    for name, summary, line in (("compact", False, True), ("headlines", False, False)):
        digest = Digest("News", (item(),), NOW, style=Style(name))
        blocks = render_slack(digest)[0]["blocks"]
        assert ("Central bank" in json.dumps(blocks)) is summary
        assert any(b["type"] == "context" for b in blocks) is line
        embed = render_discord(digest)[0]["embeds"][0]
        assert "Central bank" not in json.dumps(embed) and ("footer" in embed) is line
        assert ("also: [NPR]" in embed.get("description", "")) is line


def test_an_unknown_placeholder_is_named_and_a_template_needs_one() -> None:
    with pytest.raises(TemplateError, match=r"unknown placeholder \{headline\}, \{url\}"):
        check_template("{headline} {url} {title}")
    with pytest.raises(TemplateError, match="at least one placeholder"):
        check_template("just text")
    assert check_template("{title} — {source}") == "{title} — {source}"


def test_plain_text_follows_the_style_too() -> None:
    """The console, and a refused message's plain-text retry, show the channel's style."""
    shown = {
        name: format_digest(Digest("News", (item(),), NOW, style=style))
        for name, style in {
            "standard": Style(),
            "compact": Style("compact"),
            "headlines": Style("headlines"),
            "template": Style("template", "{title} | {source} | {link}"),
        }.items()
    }
    assert "Central bank" in shown["standard"] and "also: NPR" in shown["standard"]
    assert "Central bank" not in shown["compact"] and "Wire · 2026-12-05" in shown["compact"]
    assert "Wire ·" not in shown["headlines"] and "https://wire.example/rates" in shown["headlines"]
    assert shown["template"].endswith("Rates *rise* <!channel> | Wire | https://wire.example/rates")
