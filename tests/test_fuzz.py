"""Fuzzing what reads hostile input, time-boxed for CI (fixed seeds: the default profile).

Properties: URL canonicalisation, the fetch guard's host check, the query parser and every
digest output format. Then a mutation fuzz of the parse path seeded with feedparser's own
test fixtures and the 200 real feeds: nothing raises past the per-feed `ParseError`, and
every document is done within a time budget (a watchdog alarm) and, for the expanding
kind, a memory budget (`test_parse.py` runs that one under RLIMIT_AS).
"""

from __future__ import annotations

import random
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli.digest_build import DigestResult
from bot.cli.digest_formats import RENDERERS
from bot.errors import FetchRefused, ParseError
from bot.net.guard import check_url_host, literal_address, public_only
from bot.net.parse import FeedRef, parse_feed
from handlers.normalize import normalize_article
from handlers.query import QueryError, matches, parse_query
from handlers.safe_text import printable
from handlers.story import Story, StoryCopy
from handlers.urls import canonical_url
from handlers.visibility import EVERYTHING, project_all
from tests.conftest import SHARED

NOW = datetime(2026, 11, 27, 9, tzinfo=UTC)

# Unicode spellings of ASCII digits that NFKC folds back to them, and of the dot.
DIGITS = {
    d: [
        d,
        chr(0xFF10 + int(d)),
        chr(0x1D7CE + int(d)),
        chr(0x1D7D8 + int(d)),
        chr(0x1D7EC + int(d)),
    ]
    + ([chr(0x2460 + int(d) - 1)] if d != "0" else ["\u24ea"])
    for d in "0123456789"
}
DOTS = [".", "\u3002", "\uff0e", "\uff61"]
INNER = ["127.0.0.1", "10.0.0.5", "169.254.169.254", "192.168.1.1", "100.64.0.1", "0.0.0.0"]


@st.composite
def inner_hosts(draw: st.DrawFn) -> str:
    address = draw(st.sampled_from(INNER))
    spelled = "".join(
        draw(st.sampled_from(DIGITS[c])) if c.isdigit() else draw(st.sampled_from(DOTS))
        for c in address
    )
    return spelled + draw(st.sampled_from(["", ".", "\u3002"]))


@given(inner_hosts(), st.sampled_from(["", ":8080"]), st.text(max_size=20))
def test_no_spelling_of_an_inner_address_passes_the_host_check(
    host: str, port: str, path: str
) -> None:
    try:
        shown = check_url_host(f"http://{host}{port}/{path}", public_only)
    except FetchRefused:
        return
    address = literal_address(shown.rstrip("."))
    assert address is None or public_only(address), shown


url_parts = st.tuples(
    st.sampled_from(["http", "https", "HTTP", "ftp", ""]),
    st.one_of(
        st.sampled_from(["example.com", "m.example.com", "amp.example.com", "bücher.de"]),
        st.text(max_size=15),
    ),
    st.lists(st.text(max_size=8), max_size=4),
    st.lists(
        st.tuples(
            st.sampled_from(["utm_source", "id", "p", "fbclid", "amp", "at_medium", "x"]),
            st.text(max_size=6),
        ),
        max_size=4,
    ),
    st.text(max_size=10),
)


@given(st.one_of(url_parts, st.text(max_size=80)))
def test_canonical_urls_never_raise_and_are_idempotent(parts: object) -> None:
    if isinstance(parts, tuple):
        scheme, host, path, query, fragment = parts
        url = f"{scheme}://{host}/{'/'.join(path)}?{'&'.join(f'{k}={v}' for k, v in query)}"
        url += f"#{fragment}"
    else:
        url = str(parts)
    once = canonical_url(url)
    assert canonical_url(once) == once


QUERY_WORDS = st.sampled_from(
    ["ukraine", "AND", "OR", "NOT", "-", "(", ")", '"', "title:", "source:", "author:", "x"]
)


@settings(deadline=500)
@given(st.one_of(st.text(max_size=600), st.lists(QUERY_WORDS, max_size=300).map(" ".join)))
def test_the_query_parser_gives_a_node_or_its_own_error(text: str) -> None:
    try:
        node = parse_query(text)
    except QueryError:
        return
    assert isinstance(matches(node, {"title": "Ukraine x", "text": "", "source": "x"}), bool)


hostile_text = st.one_of(
    st.text(max_size=200),
    st.sampled_from(
        [
            "\x1b[31mred\x1b[0m",
            "\x1b]8;;https://evil.example\x07link\x1b]8;;\x07",
            "\x9b2J",
            "\u202egnp.exe",
            "<!channel> @everyone <@U1>",
            "https://bank.example/login",
        ]
    ),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(hostile_text, hostile_text, hostile_text), min_size=1, max_size=5))
def test_no_format_prints_a_control_character_from_a_feed(
    stories: list[tuple[str, str, str]],
) -> None:
    built = [
        Story(
            f"s{number}",
            summary,
            "extractive",
            (
                StoryCopy(f"a{number}", title, "https://n.example/1", source, "f", None, NOW, True),
                StoryCopy(f"b{number}", title, "javascript:alert(1)", source, "g", None, NOW),
            ),
        )
        for number, (title, source, summary) in enumerate(stories)
    ]
    items = project_all(
        built, EVERYTHING
    )  # the product's path from stored stories to what is shown
    result = DigestResult(generated_at=NOW, items=items, feeds=1, entries=len(items))
    for name, render in RENDERERS.items():
        if name == "terminal":
            continue  # rich colours its own output; test_render checks it shows no feed escape
        out = render(result, items)
        assert printable(out) == out, name
        assert "\u202e" not in out and "javascript:" not in out.replace('"javascript:', ""), name


# -- the parse path, fuzzed --------------------------------------------------------------

SNIPPETS = [
    b'<!DOCTYPE rss [<!ENTITY e "' + b"x" * 5000 + b'">]>',
    b"&e;" * 2000,
    b"<![CDATA[",
    b"\x00\xff\xfe",
    b"<item>" * 3000,
    b"[" * 5000,
    b'<?xml version="1.0" encoding="utf-16"?>',
    b"\x1b[31m\xc2\x9b",
]


def _mutate(data: bytes, rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    if kind == 0 and data:  # flip bytes
        raw = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        return bytes(raw)
    if kind == 1 and data:  # cut short
        return data[: rng.randrange(len(data))]
    if kind == 2 and data:  # repeat a slice
        start = rng.randrange(len(data))
        piece = data[start : start + rng.randint(1, 200)]
        return data[:start] + piece * rng.randint(2, 50) + data[start:]
    at = rng.randrange(len(data) + 1)  # insert something hostile
    return data[:at] + rng.choice(SNIPPETS) + data[at:]


class TooSlow(Exception):
    pass


@contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    def expire(_signum: int, _frame: FrameType | None) -> None:
        raise TooSlow

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_mutated_feeds_give_entries_or_a_per_feed_error(feedparser_corpus: Path) -> None:
    rng = random.Random(20261201)
    fixtures = sorted(
        p for p in feedparser_corpus.rglob("*") if p.suffix in {".xml", ".rdf", ".json"}
    )
    real = sorted((SHARED / "data" / "feeds-real").glob("*"))
    real = [p for p in real if p.name not in {"LICENSE", "SOURCES.tsv"}]
    seeds = rng.sample(fixtures, 250) + rng.sample(real, 40)
    parsed = refused = 0
    for path in seeds:
        data = path.read_bytes()[:300_000]
        for _ in range(2):
            mutated = _mutate(data, rng)
            try:
                with watchdog(10.0):
                    feed = parse_feed(mutated, FeedRef("f1", "https://fuzz.example/feed"), now=NOW)
                    for article in feed.articles:
                        normalize_article(article)
                parsed += 1
            except ParseError:
                refused += 1
            except TooSlow:
                pytest.fail(f"{path.name}: a mutated copy took over 10 s to parse")
    assert parsed > 100 and refused > 10
