"""Alerts decided on plain data: what a query matches, which alerts a story can match at
all (the index must never miss a match the full evaluation would find), and highlights."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.alerts import (
    AlertError,
    AlertIndex,
    StoryText,
    _StoryWords,
    found_words,
    highlight,
    parse_alert_query,
    parse_duration,
    required_words,
)
from handlers.query import _stem, fold, matches, parse_query, words_of

# (query, title, text, matches?)
TABLE = [
    ("AI", "AI beats champion", "", True),
    ("AI", "He said so", "the chair said nothing", False),
    ("US", "US election results", "", True),
    ("US", "The bus was late", "a bus strike", False),
    ("cafe", "Café opens in Paris", "", True),
    ("café", "A cafe opens", "", True),
    ('"interest rates"', "Central bank holds interest rates", "", True),
    ('"interest rates"', "Rates of interest", "interest in rates", False),
    ("rate", "Bank raises rates", "", True),
    ("companies", "One company reports", "", True),
    ("ukraine -sport", "Ukraine ceasefire talks", "", True),
    ("ukraine -sport", "Ukraine sport news", "", False),
    ("ukraine NOT (football OR tennis)", "Ukraine tennis star", "", False),
    ("(iran OR israel) AND talks", "Israel peace talks resume", "", True),
    ("(iran OR israel) AND talks", "Israel election", "", False),
    ("title:election", "Election day", "", True),
    ("title:election", "Polls open", "the election is today", False),
    ("election", "Polls open", "the election is today", True),
    ('source:"BBC News" storm', "Storm hits coast", "", True),
    ("author:smith budget", "Budget plan", "", False),
]


def story(title: str, text: str) -> StoryText:
    return StoryText(title=title, source="BBC News", author="Jones", text=text)


@pytest.mark.parametrize(("query", "title", "text", "expected"), TABLE)
def test_queries_match_on_word_boundaries_accents_phrases_fields_and_plurals(
    query: str, title: str, text: str, expected: bool
) -> None:
    node = parse_query(query)
    assert matches(node, story(title, text).fields()) is expected
    index = AlertIndex([("a1", node)])
    assert bool(index.match(story(title, text))) is expected, "the index agrees"


def test_the_index_finds_exactly_what_evaluating_every_alert_finds() -> None:
    words = [
        "ukraine",
        "russia",
        "talks",
        "ceasefire",
        "storm",
        "coast",
        "bank",
        "rates",
        "election",
        "vote",
        "ai",
        "us",
    ]
    rng = random.Random(7)
    queries = []
    for _n in range(300):
        a, b, c = rng.sample(words, 3)
        queries.append(
            rng.choice(
                [
                    a,
                    f"{a} {b}",
                    f"{a} OR {b}",
                    f"({a} OR {b}) {c}",
                    f"{a} -{b}",
                    f'"{a} {b}"',
                    f'"{a} {b} {c}" -{b}',
                    f'{a} OR "{b} {c}"',
                    f"title:{a} {b}",
                    f"{c} NOT ({a} OR {b})",
                ]
            )
        )
    alerts = [(f"a{n}", parse_query(q)) for n, q in enumerate(queries)]
    index = AlertIndex(alerts)
    for _ in range(200):
        title = " ".join(rng.sample(words, 4))
        text = " ".join(rng.sample(words, 5))
        fields = story(title, text).fields()
        expected = {
            a: found_words(node, _StoryWords(story(title, text)))
            for a, node in alerts
            if matches(node, fields)
        }
        assert {hit.alert_id: hit.words for hit in index.match(story(title, text))} == expected


def test_required_words_pick_the_selective_side() -> None:
    assert required_words(parse_query("ukraine ceasefire")) == {"ceasefire"}
    assert required_words(parse_query("iran OR israel")) == {"iran", "israel"}
    assert required_words(parse_query('"the talks"')) == {"talk"}
    assert required_words(parse_query("-sport")) is None
    assert required_words(parse_query("storm OR -sport")) is None


def test_alert_queries_have_limits_and_need_a_real_word() -> None:
    assert parse_alert_query("ukraine", max_length=200)
    with pytest.raises(AlertError, match="at most 20 characters"):
        parse_alert_query("ukraine ceasefire talks resume", max_length=20)
    with pytest.raises(AlertError, match="only common words"):
        parse_alert_query("the and of", max_length=200)
    with pytest.raises(AlertError, match="a word to look for"):
        parse_alert_query("NOT sport", max_length=200)


def test_durations() -> None:
    assert [parse_duration(d) for d in ("30m", "2h", "3d", "1w")] == [1800, 7200, 259200, 604800]
    for bad in ("", "2", "h", "0m", "1y", "1.5h", "99999m"):
        with pytest.raises(AlertError):
            parse_duration(bad)


def test_highlight_marks_matched_words_only_on_word_boundaries() -> None:
    runs = highlight("AI said: Rates rise, rate-setters wait", frozenset({"ai", "rate"}))
    assert [text for text, hit in runs if hit] == ["AI", "Rates", "rate"]
    assert "".join(text for text, _ in runs) == "AI said: Rates rise, rate-setters wait"


@given(st.text(alphabet="abcXYZ éüñÉ\u0301\u0308ßΑλφ-'.,1²½ﬁ", max_size=60))
def test_words_are_cut_then_folded_as_if_folded_first(text: str) -> None:
    """`words_of` folds word by word for speed; the words are those of folding the whole
    text first, for accents precomposed or not."""
    expected = [_stem(w) for w in re.findall(r"\w+", fold(text))]
    assert words_of(text) == expected
