"""Renderers keep every platform limit and every story, for any titles and summaries."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.render.discord_embeds import NO_MENTIONS, render_discord, render_discord_alert
from bot.render.plain import format_alert, format_digest
from bot.render.slack_blocks import block_text, render_slack, render_slack_alert
from bot.render.terminal import render_digest_terminal
from handlers.alerts import AlertItem, AlertMessage
from handlers.digest import Digest
from handlers.query import words_of
from handlers.story import DigestItem, Story, StoryCopy
from handlers.styles import STANDARD, Style
from handlers.visibility import EVERYTHING, project

NOW = datetime(2026, 11, 27, 9, tzinfo=UTC)
NASTY = [
    "",
    "<!channel>",
    "<@U123> hi",
    "@everyone",
    "@here look",
    "*bold* _it_ ~x~ `code`",
    "[link](https://evil.example)",
    "a & b < c > d",
    "**" * 500,
    "é" * 3000,
    "\n\n\n",
    "🦀" * 700,
    "> quote\n# heading",
    "x" * 20000,
]
texts = st.one_of(st.sampled_from(NASTY), st.text(max_size=400), st.text(max_size=5000))
urls = st.one_of(
    st.just(""),
    st.just("https://example.com/a?b=1|2>3"),
    st.text(max_size=50).map(lambda t: f"https://example.com/{t}"),
    st.just("javascript:alert(1)"),
    st.just("https://x.example/" + "p" * 3000),
)


@st.composite
def items(draw: st.DrawFn, number: int) -> DigestItem:
    copies = draw(
        st.lists(
            st.builds(
                StoryCopy,
                id=st.just("c"),
                title=texts,
                url=urls,
                source=texts,
                feed_id=st.just("f"),
                published=st.none(),
                seen=st.just(NOW),
            ),
            max_size=12,
        )
    )
    return DigestItem(
        id=f"{number:016x}",
        title=draw(texts),
        url=draw(urls),
        source=draw(texts),
        published=draw(st.one_of(st.none(), st.just(NOW))),
        summary=draw(texts),
        also=tuple(copies),
        story_id=f"{number:016x}",
    )


@st.composite
def digests(draw: st.DrawFn, style: Style = STANDARD) -> Digest:
    count = draw(st.integers(min_value=0, max_value=40))
    return Digest(
        heading=draw(texts),
        items=tuple(draw(items(n)) for n in range(count)),
        generated_at=NOW,
        more=draw(st.integers(min_value=0, max_value=500)),
        style=style,
    )


def all_text(value: object) -> list[str]:
    if isinstance(value, dict):
        return [t for v in value.values() for t in all_text(v)]
    if isinstance(value, list):
        return [t for v in value for t in all_text(v)]
    return [value] if isinstance(value, str) else []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(digests())
def test_slack_messages_keep_every_limit_and_every_story(digest: Digest) -> None:
    messages = render_slack(digest)
    story_ids = []
    for message in messages:
        blocks = message["blocks"]
        assert (
            message["text"]
            and message["unfurl_links"] is False
            and message["unfurl_media"] is False
        )
        assert "channel" not in message
        assert 0 < len(blocks) <= 50
        assert sum(block_text(b) for b in blocks) <= 11_000
        for block in blocks:
            if block["type"] == "header":
                assert block["text"]["type"] == "plain_text" and len(block["text"]["text"]) <= 150
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= 3000
                story_ids.append(block["block_id"])
            if block["type"] == "context":
                assert 0 < len(block["elements"]) <= 10
                assert all(len(e["text"]) <= 3000 for e in block["elements"])
        mrkdwn = [message["text"], *all_text([b for b in blocks if b["type"] != "header"])]
        for text in mrkdwn:
            assert "<!" not in text and "<@" not in text, "feed text cannot mention anyone"
    assert story_ids == [f"story-{item.id}" for item in digest.items], "all, once, in order"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(digests())
def test_discord_messages_keep_every_limit_and_every_story(digest: Digest) -> None:
    messages = render_discord(digest)
    embeds = []
    for message in messages:
        assert message["allowed_mentions"] == NO_MENTIONS
        assert len(message["content"]) <= 2000
        assert len(message["embeds"]) <= 10
        assert message["content"] or message["embeds"], "no empty message"
        total = 0
        for embed in message["embeds"]:
            assert 0 < len(embed["title"]) <= 256
            assert len(embed.get("description", "")) <= 4096
            assert len(embed["footer"]["text"]) <= 2048
            total += (
                len(embed["title"])
                + len(embed.get("description", ""))
                + len(embed["footer"]["text"])
            )
            assert embed.get("url", "https://").startswith(("http://", "https://"))
        assert total <= 6000
        for text in all_text(message):
            assert "@everyone" not in text and "@here" not in text and "<@" not in text
        embeds += message["embeds"]
    assert len(embeds) == len(digest.items), "every story once"


def test_a_small_digest_is_one_message_with_links() -> None:
    item = DigestItem(
        id="a" * 16,
        title="Rates rise",
        url="https://n.example/rates",
        source="Wire",
        published=NOW,
        summary="The bank raised rates.",
        also=(StoryCopy("b", "Rates up", "https://o.example/r", "Other", "f2", NOW, NOW),),
    )
    [slack] = render_slack(Digest("Morning news", (item,), NOW, more=3))
    section = slack["blocks"][1]["text"]["text"]
    assert section == "*<https://n.example/rates|Rates rise>*\nThe bank raised rates."
    assert "and 3 more" in slack["blocks"][-1]["elements"][0]["text"]
    [discord] = render_discord(Digest("Morning news", (item,), NOW, more=3))
    assert discord["embeds"][0]["url"] == "https://n.example/rates"
    assert "also: [Other](https://o.example/r)" in discord["embeds"][0]["description"]
    assert discord["embeds"][0]["footer"]["text"].endswith(" · 2 outlets")
    assert "Wire · " in slack["blocks"][2]["elements"][0]["text"]
    assert slack["blocks"][2]["elements"][0]["text"].endswith(" · 2 outlets")
    assert slack["blocks"][2]["elements"][1]["text"] == "also: <https://o.example/r|Other>"
    assert discord["content"].endswith("…and 3 more")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(digests())
def test_the_terminal_shows_every_story_and_no_control_characters(digest: Digest) -> None:
    plain = render_digest_terminal(digest, color=False)
    assert not any(ch in plain for ch in "\x1b\x07\x08\r\x00")
    assert plain.count("\n  also: ") == sum(1 for item in digest.items if item.other_outlets()[0])
    assert ("…and " in plain) == bool(digest.more)


def test_every_renderer_says_how_many_outlets_carried_a_story() -> None:
    copies = tuple(
        StoryCopy(
            f"c{n}", f"Report {n}", f"https://o{n}.example/r", f"Outlet {n}", f"f{n}", NOW, NOW
        )
        for n in range(5)
    )
    same_outlet = StoryCopy("w2", "Again", "https://n.example/r2", "Wire", "f0", NOW, NOW)
    item = DigestItem(
        "a" * 16, "Rates rise", "https://n.example/r", "Wire", NOW, "Up.", (*copies, same_outlet)
    )
    assert item.outlets == 6 and item.other_outlets() == (list(copies[:2]), 3)
    digest = Digest("News", (item,), NOW)
    [slack] = render_slack(digest)
    [discord] = render_discord(digest)
    shown = {
        "slack": json.dumps(slack),
        "discord": json.dumps(discord),
        "terminal": render_digest_terminal(digest, color=False),
        "plain": format_digest(digest),
    }
    for name, text in shown.items():
        assert "6 outlets" in text, name
    for name in ("slack", "discord", "terminal"):
        assert "Outlet 0" in shown[name] and "Outlet 1" in shown[name], name
        assert "+3" in shown[name] and "Outlet 2" not in shown[name], name


def test_feed_text_cannot_forge_a_line_of_the_layout() -> None:
    forged = StoryCopy("c", "\n  also: Forged – x", "", "Wire\u2028  also: Z", "f", None, NOW)
    item = DigestItem(
        "a" * 16, "Title\n  also: Fake", "", "Src\n", NOW, "Sum\r\n  also: Y", (forged,)
    )
    digest = Digest("News", (item,), NOW)
    for text in (render_digest_terminal(digest, color=False), format_digest(digest)):
        assert text.count("\n  also: ") == 1, text
        assert "Title also: Fake" in text


def test_the_terminal_shows_feed_markup_literally_and_links_the_title() -> None:
    item = DigestItem(
        "a" * 16, "[bold red]Alert[/] \x1b[2J", "https://n.example/a", "Wire", NOW, "", ()
    )
    plain = render_digest_terminal(Digest("News", (item,), NOW), color=False)
    assert "[bold red]Alert[/] [2J" in plain
    colour = render_digest_terminal(Digest("News", (item,), NOW), color=True)
    assert "\x1b]8;" in colour and "https://n.example/a" in colour, "a clickable link"
    assert "\x1b[2J" not in colour


@st.composite
def alert_messages(draw: st.DrawFn) -> AlertMessage:
    """Up to 10 matches (a DM's most), with hostile queries and highlighted words taken
    from the stories' own text as well as from anywhere."""
    shown = []
    for n in range(draw(st.integers(min_value=1, max_value=10))):
        item = draw(items(n))
        own = words_of(f"{item.title} {item.summary}")
        picked = draw(st.lists(st.one_of(st.sampled_from(own or ["x"]), texts), max_size=4))
        shown.append(AlertItem(item, f"a{n}", draw(texts), frozenset(picked)))
    return AlertMessage(tuple(shown), personal=draw(st.booleans()))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(alert_messages())
def test_alert_messages_keep_every_limit_and_mention_no_one(message: AlertMessage) -> None:
    for slack in render_slack_alert(message):
        assert slack["text"] and slack["unfurl_links"] is False
        assert 0 < len(slack["blocks"]) <= 50
        assert sum(block_text(b) for b in slack["blocks"]) <= 11_000
        for block in slack["blocks"]:
            if block["type"] == "header":
                assert len(block["text"]["text"]) <= 150
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= 3000
        mrkdwn = [slack["text"], *all_text([b for b in slack["blocks"] if b["type"] != "header"])]
        for text in mrkdwn:
            assert "<!" not in text and "<@" not in text, "nothing can mention anyone"
    embeds = []
    for discord in render_discord_alert(message):
        assert discord["allowed_mentions"] == NO_MENTIONS
        assert len(discord["content"]) <= 2000 and len(discord["embeds"]) <= 10
        total = 0
        for embed in discord["embeds"]:
            assert 0 < len(embed["title"]) <= 256 and len(embed["description"]) <= 4096
            assert len(embed["footer"]["text"]) <= 2048
            total += len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"])
        assert total <= 6000
        for text in all_text(discord):
            assert "@everyone" not in text and "@here" not in text and "<@" not in text
        embeds += discord["embeds"]
    assert len(embeds) == len(message.items), "every match once"
    plain = format_alert(message)
    assert not any(ch in plain for ch in "\x1b\x07\x08\r\x00")


def test_an_alert_message_bolds_the_matched_words() -> None:
    item = DigestItem(
        "a" * 16,
        "Rates rise",
        "https://n.example/r",
        "Wire",
        NOW,
        "The bank raised rates again; rate-setters met.",
        (),
    )
    message = AlertMessage((AlertItem(item, "a3", "rates", frozenset({"rate"})),), personal=True)
    [slack] = render_slack_alert(message)
    assert (
        "The bank raised *rates* again; *rate*-setters met." in slack["blocks"][1]["text"]["text"]
    )
    [discord] = render_discord_alert(message)
    assert "raised **rates** again; **rate**\\-setters" in discord["embeds"][0]["description"]
    assert "a3 'rates'" in discord["content"]


def test_an_outlet_named_like_another_site_shows_where_its_link_goes() -> None:
    """Issue #22: a feed titled "bbc.co.uk" whose copy links to a phishing page is an "also:"
    label; on every platform the label says the real host beside the name it claims."""
    published = datetime(2026, 11, 27, 9, tzinfo=UTC)
    honest = StoryCopy(
        "s1",
        "Bridge reopens",
        "https://news.example/1",
        "Local News",
        "f1",
        published,
        published,
        True,
    )
    spoof = StoryCopy(
        "s2",
        "Bridge reopens",
        "https://evil.example/phish",
        "bbc.co.uk",
        "f2",
        published,
        published,
    )
    same = StoryCopy(
        "s3",
        "Bridge reopens",
        "https://www.bbc.co.uk/news/1",
        "bbc.co.uk",
        "f3",
        published,
        published,
    )
    story = Story("s1", "Summary.", "extractive", (honest, spoof, same))
    item = project(story, EVERYTHING)
    assert item is not None
    digest = Digest("Today", (item,), published)
    slack = json.dumps(render_slack(digest))
    discord = render_discord(digest)[0]["embeds"][0]["description"]
    for shown in (slack, format_digest(digest)):
        assert "bbc.co.uk (evil.example)" in shown
        assert "(www.bbc.co.uk)" not in shown, "an honest label stays as it is"
    assert r"[bbc.co.uk \(evil.example\)](https://evil.example/phish)" in discord
