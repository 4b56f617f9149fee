"""Parsing: data-driven fixtures (input file + .expected.json), plus the real-world corpora."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.errors import ParseError
from bot.net.parse import FeedRef, parse_feed
from handlers.normalize import normalize_article
from tests.conftest import ROOT, SHARED

DATA = ROOT / "tests" / "data" / "parse"
CASES = sorted(p for p in DATA.iterdir() if not p.name.endswith(".expected.json"))
REF = FeedRef(feed_id="f1", url="https://feeds.example.com/feed")


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_parse_fixture(path: Path) -> None:
    expected = json.loads(path.with_name(path.stem + ".expected.json").read_text("utf-8"))
    content_type = "application/feed+json" if path.suffix == ".json" else ""
    if "error" in expected:
        with pytest.raises(ParseError, match=expected["error"]):
            parse_feed(path.read_bytes(), REF, content_type=content_type)
        return
    parsed = parse_feed(path.read_bytes(), REF, content_type=content_type)
    assert parsed.title == expected["title"]
    if "warning" in expected:
        assert parsed.warning is not None and expected["warning"] in parsed.warning
    else:
        assert parsed.warning is None
    articles = [normalize_article(a).to_dict() for a in parsed.articles]
    assert len(articles) == len(expected["entries"])
    for article, wanted in zip(articles, expected["entries"], strict=True):
        assert {key: article[key] for key in wanted} == wanted


def test_entry_without_guid_or_link_gets_a_stable_key() -> None:
    data = (DATA / "rss2_basic.xml").read_bytes()
    first = parse_feed(data, REF).articles[2]
    again = parse_feed(data, REF).articles[2]
    assert first.entry_key.startswith("hash:")
    assert first.entry_key == again.entry_key


def test_bytes_that_look_like_a_path_are_not_opened() -> None:
    """feedparser opens local files when handed a bare path; we hand it a file object."""
    with pytest.raises(ParseError):
        parse_feed(b"/etc/hostname", REF)


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    def expire(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"parsing took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _entries_or_error(path: Path) -> int:
    """Entries parsed, or -1 for a clean per-feed ParseError; anything else fails the test."""
    with time_limit(20):
        try:
            parsed = parse_feed(path.read_bytes(), FeedRef("f1", path.as_uri()))
        except ParseError:
            return -1
    for article in parsed.articles:
        normalize_article(article)
    return len(parsed.articles)


def test_feedparser_corpus_gives_entries_or_a_clean_error(feedparser_corpus: Path) -> None:
    files = [
        p
        for p in feedparser_corpus.rglob("*")
        if p.is_file() and p.suffix in {".xml", ".rdf", ".json"}
    ]
    assert len(files) > 1500
    outcomes = {path.name: _entries_or_error(path) for path in files}
    assert sum(1 for n in outcomes.values() if n > 0) > 1000
    assert sum(1 for n in outcomes.values() if n < 0) > 10


def test_real_feeds_give_entries_or_a_clean_error() -> None:
    folder = SHARED / "data" / "feeds-real"
    files = [p for p in sorted(folder.iterdir()) if p.name not in {"LICENSE", "SOURCES.tsv"}]
    assert len(files) == 200
    outcomes = [_entries_or_error(path) for path in files]
    assert sum(1 for n in outcomes if n > 0) >= 195
    assert sum(n for n in outcomes if n > 0) > 6000


def _entity_feed(value_size: int, references: int) -> bytes:
    refs = "&a;" * references
    return (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE rss [<!ENTITY a "{"x" * value_size}">]>\n'
        '<rss version="2.0"><channel><title>t</title>'
        f"<item><title>boom</title><description>{refs}</description></item>"
        "</channel></rss>"
    ).encode()


_PARSE_UNDER_A_BUDGET = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (512 * 1024 * 1024, 512 * 1024 * 1024))
from bot.errors import ParseError
from bot.net.parse import FeedRef, parse_feed
data = sys.stdin.buffer.read()
try:
    parse_feed(data, FeedRef("f1", "https://hostile.example/feed"))
    outcome = "parsed"
except ParseError as exc:
    outcome = str(exc)
# VmHWM, not ru_maxrss: the latter keeps the forking parent's (pytest's) size across exec.
status = open("/proc/self/status").read().split("VmHWM:")[1]
peak = int(status.split()[0]) * 1024
print(json.dumps({"outcome": outcome, "peak": peak}))
"""


@pytest.mark.parametrize(("value_size", "references"), [(100_000, 200_000), (10_000, 20_000)])
def test_quadratic_entity_expansion_is_refused_within_a_memory_budget(
    value_size: int, references: int
) -> None:
    """Run in a child process under RLIMIT_AS (512 MB): before the fix this needed 16 GiB."""
    result = subprocess.run(
        [sys.executable, "-c", _PARSE_UNDER_A_BUDGET],
        input=_entity_feed(value_size, references),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    report = json.loads(result.stdout)
    assert "entities would expand to more than 1 MB" in report["outcome"]
    assert report["peak"] < 200 * 1024 * 1024


def test_a_few_small_entities_still_parse() -> None:
    feed = _entity_feed(20, 3)
    parsed = parse_feed(feed, FeedRef("f1", "https://ok.example/feed"))
    assert [a.title for a in parsed.articles] == ["boom"]


def test_deeply_nested_json_is_a_per_feed_error() -> None:
    with pytest.raises(ParseError, match="nested too deeply"):
        parse_feed(
            b"[" * 100_000,
            FeedRef("f1", "https://x.example/feed.json"),
            content_type="application/feed+json",
        )


def test_markup_in_entries_is_left_to_normalize_and_feed_titles_show_as_text() -> None:
    """feedparser's sanitizer is off (normalize turns all entry HTML into text): a script in
    an entry never reaches the article's text, and a feed title shows its words only."""
    data = b"""<?xml version="1.0"?><rss version="2.0"><channel>
      <title>&lt;b&gt;Fish &amp;amp; Chips&lt;/b&gt;</title>
      <item><title>Hello</title><link>https://example.com/a</link>
      <description>&lt;p&gt;Fine words.&lt;/p&gt;&lt;script&gt;steal()&lt;/script&gt;</description>
      </item></channel></rss>"""
    parsed = parse_feed(data, FeedRef("f", "https://example.com/feed"))
    assert parsed.title == "Fish & Chips"
    [article] = [normalize_article(a) for a in parsed.articles]
    assert article.description == "Fine words."
    assert article.source == "Fish & Chips"


def test_a_json_feed_title_is_plain_text() -> None:
    data = b'{"version": "https://jsonfeed.org/version/1.1", "title": "C++ <3 & more",'
    data += b' "items": [{"id": "1", "url": "https://example.com/1", "title": "a <b> c"}]}'
    parsed = parse_feed(data, FeedRef("f", "https://example.com/feed.json"))
    assert parsed.title == "C++ <3 & more"
    [article] = [normalize_article(a) for a in parsed.articles]
    assert (article.title, article.source) == ("a <b> c", "C++ <3 & more")
