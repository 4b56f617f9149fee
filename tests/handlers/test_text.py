"""HTML to text, sentence splitting, normalisation and summaries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers.normalize import normalize_article
from handlers.story import Story, StoryCopy
from handlers.summarize import Budget, summarize_text
from handlers.text import html_to_text, split_sentences
from handlers.visibility import EVERYTHING, project_all
from tests.articles import article


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p>One</p><p>Two</p>", "One\nTwo"),
        ("<div>a<br>b</div>", "a\nb"),
        ("<script>alert(1)</script><style>p{}</style>Visible", "Visible"),
        ("<p>Fish &amp; chips &lt;3</p>", "Fish & chips <3"),
        ("&amp;lt;b&amp;gt;", "&lt;b&gt;"),
        ("plain   text\twith  spaces", "plain text with spaces"),
        ("<!-- hidden --><iframe src=x>in frame</iframe>ok", "ok"),
        ("<p>unclosed <b>bold", "unclosed bold"),
        ("nul\x00 and \x1b escape", "nul and escape"),
        ("", ""),
    ],
)
def test_html_to_text(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


def test_split_sentences_keeps_quotes_and_abbreviated_numbers() -> None:
    text = 'He said "stop." Then he left. Prices rose 3.5 percent! Why? Because.'
    assert split_sentences(text) == [
        'He said "stop."',
        "Then he left.",
        "Prices rose 3.5 percent!",
        "Why?",
        "Because.",
    ]


def test_normalize_gives_stable_ids() -> None:
    one = normalize_article(article(url="https://EXAMPLE.com/story#comments"))
    two = normalize_article(article(feed_id="f9", url="https://example.com/story"))
    linkless = normalize_article(article(url="", title="<b>Bold</b> &amp; plain"))
    assert one.id == two.id and len(one.id) == 16
    assert linkless.id != one.id and linkless.title == "Bold & plain"


LONG = (
    "The city council approved the new transit budget on Tuesday. "
    "The budget adds forty buses and two tram lines. "
    "Critics said the council ignored cyclists. "
    "The weather was mild. "
    "Transit officials said the buses and tram lines will open next year. "
    "Council members praised the transit budget as historic."
)


def test_summary_respects_budget_and_is_deterministic() -> None:
    first = summarize_text(LONG, title="Council approves transit budget")
    assert first == summarize_text(LONG, title="Council approves transit budget")
    assert len(split_sentences(first)) == 3 and len(first) <= 600
    assert first.startswith("The city council approved")
    assert "The weather was mild." not in first
    short = summarize_text(LONG, budget=Budget(sentences=2, chars=80))
    assert len(short) <= 80
    assert summarize_text("", title="x") == ""
    one_long = summarize_text("word " * 400, budget=Budget(chars=100))
    assert len(one_long) <= 100 and one_long.endswith("…")


def test_a_summary_does_not_restate_the_title() -> None:
    title = "Council approves new transit budget"
    summary = summarize_text(f"{title}. {LONG}", title=title)
    assert not summary.startswith(title) and summary.startswith("The city council approved")
    assert summarize_text(f"{title}.", title=title) == "", "the title alone is no summary"


def test_digest_items_order_and_primary() -> None:
    seen = datetime(2026, 11, 27, 12, tzinfo=UTC)

    def copy(cid: str, hour: int | None, *, first: bool = False) -> StoryCopy:
        published = datetime(2026, 11, 27, hour, tzinfo=UTC) if hour is not None else None
        return StoryCopy(
            cid, f"t{cid}", f"https://x/{cid}", f"s{cid}", "f1", published, seen, first
        )

    stories = [
        Story("a", "", "", (copy("a", 9, first=True), copy("a2", 7))),
        Story("b", "", "", (copy("b", None, first=True),)),
        Story("c", "", "", (copy("c", 11, first=True),)),
    ]
    items = project_all(stories, EVERYTHING)
    assert [i.id for i in items] == ["c", "a2", "b"]
    assert [c.id for c in items[1].also] == ["a"]
