"""The fast parse path against feedparser, the reference, and the rules that choose between
them.

Every feed document of feeds-real and of feedparser's own test corpus is parsed twice
through `parse_feed`: once as newsbot parses it (the fast path, with its fallback rules)
and once with feedparser alone. Entries are matched by (document, id or link) over the
union of both readings, and compared after newsbot's normalisation on the fields newsbot
keeps: entry key, id, link, title, date, author, summary, content, tags, and the feed's
name. A document that is not an RSS or Atom feed is left to whichever error or JSON path
both share.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import ParseError
from bot.net.fast_parse import Fallback, read_fast
from bot.net.parse import FeedRef, parse_feed
from handlers.article import Article
from handlers.normalize import normalize_article
from tests.conftest import SHARED

NOW = datetime(2026, 1, 1, tzinfo=UTC)
URL = "https://feeds.example.com/feed"
FIELDS = (
    "source",
    "entry_key",
    "guid",
    "url",
    "title",
    "published",
    "author",
    "description",
    "content",
    "tags",
)
FEEDS_REAL = SHARED / "data" / "feeds-real"

# Every entry the two readings disagree on, by (document, id or link) -> why that is right.
# Empty: each difference the test has found became a fallback rule in bot/net/fast_parse.py
# (see its docstring) or a fix to both paths (a document served without a content type is
# read as XML, not Latin-1).
EXPLAINED: dict[tuple[str, str], str] = {}


@dataclass
class Comparison:
    entries: int = 0
    identical: int = 0
    documents: int = 0
    fast_documents: int = 0
    differences: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.identical / self.entries


def _readings(data: bytes, *, fast: bool) -> dict[str, Article]:
    try:
        parsed = parse_feed(data, FeedRef("f1", URL), now=NOW, fast=fast)
    except ParseError:
        return {}
    out: dict[str, Article] = {}
    for article in parsed.articles:
        out.setdefault(article.guid or article.url or article.entry_key, article)
    return out


def compare(paths: list[Path], root: Path) -> Comparison:
    result = Comparison()
    for path in paths:
        data = path.read_bytes()
        result.documents += 1
        try:
            read_fast(data, URL)
            result.fast_documents += 1
        except Fallback:
            pass
        reference, fast = _readings(data, fast=False), _readings(data, fast=True)
        name = str(path.relative_to(root))
        for key in sorted(reference.keys() | fast.keys()):
            result.entries += 1
            before, after = reference.get(key), fast.get(key)
            if before is None or after is None:
                wrong = ["only in " + ("the fast reading" if before is None else "feedparser's")]
            else:
                a, b = normalize_article(before), normalize_article(after)
                wrong = [f for f in FIELDS if getattr(a, f) != getattr(b, f)]
            if not wrong or (name, key) in EXPLAINED:
                result.identical += 1
            else:
                result.differences.append(f"{name} {key}: {', '.join(wrong)}")
    return result


@pytest.fixture(autouse=True)
def _quiet_parse_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.net.parse")


def test_feeds_real_entries_are_identical_on_the_fast_path() -> None:
    paths = [p for p in sorted(FEEDS_REAL.iterdir()) if p.name not in {"LICENSE", "SOURCES.tsv"}]
    result = compare(paths, FEEDS_REAL)
    print(
        f"feeds-real: {result.identical}/{result.entries} entries identical "
        f"({result.share:.2%}); {result.fast_documents}/{result.documents} documents fast"
    )
    assert result.entries > 6000
    assert result.share >= 0.995, result.differences
    assert result.differences == []
    # The rules must not hand everything back: most real feeds take the fast path.
    assert result.fast_documents >= 180


def test_feedparser_corpus_entries_are_identical_on_the_fast_path(
    feedparser_corpus: Path,
) -> None:
    paths = [p for p in sorted(feedparser_corpus.rglob("*")) if p.suffix in {".xml", ".rdf"}]
    result = compare(paths, feedparser_corpus)
    print(
        f"feedparser corpus: {result.identical}/{result.entries} entries identical "
        f"({result.share:.2%}); {result.fast_documents}/{result.documents} documents fast"
    )
    assert result.entries > 1000
    assert result.differences == []  # mostly edge cases: wherever they differ, fall back
    assert result.fast_documents > 500
