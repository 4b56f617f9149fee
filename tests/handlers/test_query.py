"""The query language: parsing, matching, and errors that point at the problem."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.query import (
    And,
    Not,
    Or,
    QueryError,
    Term,
    Words,
    matches,
    parse_query,
    positive_terms,
    words_of,
)

STORY = {
    "title": "Central bank raises interest rates again",
    "source": "BBC News",
    "author": "Faisal Islam",
    "text": "The Bank of England said inflation in Zürich-style economies stayed high. "
    "Officials said the Café owners were worried.",
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("interest", True),
        ("INTEREST rates", True),
        ('"interest rates"', True),
        ('"rates interest"', False),
        ("rate", True),  # plural insensitive
        ("bank AND inflation", True),
        ("bank inflation football", False),
        ("football OR inflation", True),
        ("bank -inflation", False),
        ("bank NOT football", True),
        ("(football OR cricket) AND bank", False),
        ("title:bank", True),
        ("title:inflation", False),
        ('source:"bbc news"', True),
        ("source:reuters", False),
        ("author:islam", True),
        ("ai", False),  # "said" does not contain the word AI
        ("zurich", True),  # accents folded
        ("cafe", True),
        ("NOT football", True),
        ("-(football OR bank)", False),
        ("title:(football OR rates)", True),
        ("title:(inflation OR football)", False),  # inflation is in the text, not the title
        ("title:(bank -football) source:bbc", True),
        ("title: bank", True),  # a space after the field's colon is forgiven
        ("title: inflation", False),
    ],
)
def test_matching(query: str, expected: bool) -> None:
    assert matches(parse_query(query), STORY) is expected


def test_precedence_not_and_or() -> None:
    assert parse_query("a b OR c -d") == Or(
        (
            And((Term(("a",)), Term(("b",)))),
            And((Term(("c",)), Not(Term(("d",))))),
        )
    )


def test_positive_terms_skip_negations() -> None:
    node = parse_query('title:vote OR "peace talks" -sport')
    assert positive_terms(node) == [Term(("vote",), "title"), Term(("peace", "talk"))]


@pytest.mark.parametrize(
    ("query", "message", "position"),
    [
        ("", "empty", 0),
        ('"open phrase', "closing", 0),
        ("(ukraine OR russia", "never closed", 0),
        ("ukraine)", "unexpected ')'", 7),
        ("ukraine AND", "ends where a word", 11),
        ("OR ukraine", "needs a word on each side", 0),
        ("colour:red", "unknown field 'colour'", 0),
        ("a AND OR b", "needs a word on each side", 6),
        ("!!!", "no letters or digits", 0),
        ("title:", "title: needs a word", 0),
        ("title:()", "unexpected ')'", 7),
        ("(" * 247 + "x" + ")" * 247, "nests deeper than 20", 20),
        ("NOT " * 30 + "x", "nests deeper than 20", 80),
    ],
)
def test_malformed_queries_point_at_the_problem(query: str, message: str, position: int) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    assert message in str(caught.value)
    assert caught.value.position == position
    assert "example:" in str(caught.value)


def test_twenty_levels_of_nesting_still_parse() -> None:
    node = parse_query("(" * 19 + "NOT ukraine" + ")" * 19)
    assert matches(node, {"title": "Russia", "text": ""})


def test_hyphenated_words_are_not_negations() -> None:
    assert matches(parse_query("covid-19"), {"title": "Covid-19 cases fall", "text": ""})


@given(st.text(max_size=80))
def test_any_text_parses_or_gives_a_query_error(text: str) -> None:
    try:
        node = parse_query(text)
    except QueryError:
        return
    assert isinstance(matches(node, STORY), bool)


# Pieces of words, spaces, punctuation, accents (composed and combining), and characters
# that fold into several letters.
_MIXED_TEXT = st.lists(
    st.sampled_from([*"abs iesxzUS.'’-éE\u0301ßİ½ ", "e\u0301", "ies", "ss", " "]),
    max_size=30,
).map("".join)


@given(_MIXED_TEXT)
def test_words_reads_a_text_as_words_of_does(text: str) -> None:
    """`Words` takes shortcuts (ASCII words, only words ending in "s" stemmed): its set,
    order and pairs are still exactly what folding the whole text word by word gives."""
    expected = words_of(text)
    words = Words.of(text)
    assert words.found == frozenset(expected)
    assert words.order == expected
    assert words.pairs == set(itertools.pairwise(expected))


@given(
    _MIXED_TEXT,
    st.lists(st.sampled_from(["a", "b", "bs", "ie", "ete", "ss"]), min_size=1, max_size=3),
)
def test_a_phrase_is_found_exactly_where_its_words_follow_one_another(
    text: str, phrase: list[str]
) -> None:
    order = words_of(text)
    width = len(phrase)
    present = any(order[at : at + width] == phrase for at in range(len(order) - width + 1))
    assert Words.of(text).contain(tuple(phrase)) == present
