"""The fast parse path's fallback rules and its security guarantees.

Each rule is shown on a small document: the fast path hands it to feedparser, and the
articles `parse_feed` gives are feedparser's.
"""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.errors import ParseError
from bot.net.fast_parse import Fallback, read_fast
from bot.net.parse import FeedRef, parse_feed
from handlers.normalize import normalize_article

URL = "https://feeds.example.com/feed"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _rss(item: str, *, head: str = '<?xml version="1.0" encoding="utf-8"?>', ns: str = "") -> bytes:
    return (
        f'{head}<rss version="2.0"{ns}><channel><title>Feed</title>'
        f"<link>https://example.com/</link><item>{item}</item></channel></rss>"
    ).encode()


PLAIN = "<title>Hello</title><link>https://example.com/a</link><description>Words</description>"
ITUNES = ' xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'

FALLBACKS = {
    "not well-formed": _rss(PLAIN + "<b>"),
    "declared encoding": _rss(PLAIN, head='<?xml version="1.0" encoding="iso-8859-1"?>'),
    "UTF-16": "\ufeff".encode("utf-16-le") + _rss(PLAIN).decode().encode("utf-16-le"),
    "not UTF-8": _rss(
        PLAIN.replace("Words", "caf\xe9").encode("latin-1").decode("latin-1")
    ).replace(b"caf\xc3\xa9", b"caf\xe9"),
    "document type": _rss(PLAIN, head='<?xml version="1.0"?><!DOCTYPE rss>'),
    "root element": b"<opml><body><outline/></body></opml>",
    "feedparser: itunes_summary": _rss(PLAIN + "<itunes:summary>S</itunes:summary>", ns=ITUNES),
    "markup inside": _rss(PLAIN.replace("Words", "<p>Words</p>")),
    "base64": _rss(PLAIN + '<content:encoded type="image/png">AAAA</content:encoded>').replace(
        b"<rss ", b'<rss xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    ),
    "no entries": _rss("").replace(b"<item></item>", b""),
    "feedparser: source": _rss(PLAIN + '<source url="https://b.example/">B</source>'),
}


@pytest.mark.parametrize("reason", FALLBACKS, ids=list(FALLBACKS))
def test_each_fallback_rule_hands_the_document_to_feedparser(reason: str) -> None:
    data = FALLBACKS[reason]
    with pytest.raises(Fallback, match=reason):
        read_fast(data, URL)
    try:
        reference = _articles(data, fast=False)
    except ParseError as exc:
        with pytest.raises(ParseError, match=re.escape(str(exc)[:40])):
            parse_feed(data, FeedRef("f", URL))
        return
    assert _articles(data) == reference


def _articles(data: bytes, *, fast: bool = True) -> list[dict[str, object]]:
    parsed = parse_feed(data, FeedRef("f", URL), now=NOW, fast=fast)
    return [normalize_article(a).to_dict() | {"ingest_id": ""} for a in parsed.articles]


def test_an_http_charset_other_than_utf8_goes_to_feedparser() -> None:
    with pytest.raises(Fallback, match="HTTP charset"):
        read_fast(_rss(PLAIN), URL, "application/rss+xml; charset=windows-1252")
    read_fast(_rss(PLAIN), URL, "application/rss+xml; charset=UTF-8")


def test_a_plain_rss_feed_takes_the_fast_path_and_reads_as_feedparser_does() -> None:
    data = _rss(
        "<title>Fish &amp;amp; Chips</title><link>/a?x=1&amp;y=2</link>"
        "<guid isPermaLink='false'>id-1</guid><pubDate>Mon, 01 Sep 2025 10:00:00 GMT</pubDate>"
        "<author>ed@example.com (Ed)</author><description>&lt;p&gt;Hi&lt;/p&gt;</description>"
        "<category>World</category>"
    )
    document = read_fast(data, URL)
    [entry] = document.entries
    assert entry["link"] == "https://feeds.example.com/a?x=1&y=2"
    [fast] = _articles(data)
    assert [fast] == _articles(data, fast=False)
    assert (fast["title"], fast["author"], fast["tags"]) == (
        "Fish & Chips",
        "ed@example.com (Ed)",
        ["World"],
    )


class _Counter(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"SECRET-FROM-THE-NETWORK")

    def log_message(self, *_: object) -> None:
        return


@pytest.fixture
def entity_server() -> Iterator[str]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/x"
    server.shutdown()


def test_external_entities_are_never_fetched_or_read(entity_server: str) -> None:
    """XXE, with the DOCTYPE pushed past any look at the document's first bytes."""
    padding = "<!--" + "x" * 4000 + "-->"
    for system in (entity_server, "file:///etc/passwd"):
        data = (
            f'<?xml version="1.0"?>{padding}<!DOCTYPE rss [<!ENTITY x SYSTEM "{system}">]>'
            '<rss version="2.0"><channel><title>t</title><item><title>a &x; b</title>'
            "<link>https://example.com/a</link></item></channel></rss>"
        ).encode()
        with pytest.raises(Fallback, match="document type"):
            read_fast(data, URL)
        parsed = parse_feed(data, FeedRef("f", URL))
        text = " ".join(normalize_article(a).title for a in parsed.articles)
        assert "SECRET" not in text and "root:" not in text
    assert _Counter.hits == 0


def test_an_entity_bomb_is_refused_before_either_path() -> None:
    data = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + "x" * 10_000 + '">]>'
        '<rss version="2.0"><channel><title>t</title><item><title>boom</title>'
        "<description>" + "&a;" * 20_000 + "</description></item></channel></rss>"
    ).encode()
    with pytest.raises(ParseError, match="expand to more than 1 MB"):
        parse_feed(data, FeedRef("f", URL))


def test_the_fast_path_never_treats_its_input_as_a_location() -> None:
    for data in (b"https://feeds.example.com/other.xml", b"/etc/passwd"):
        with pytest.raises(Fallback, match="not well-formed"):
            read_fast(data, URL)


def test_nesting_past_libxml2s_default_limit_goes_to_feedparser() -> None:
    deep = "<x>" * 300 + "</x>" * 300
    data = _rss(PLAIN + f"<extra>{deep}</extra>")
    with pytest.raises(Fallback, match="not well-formed"):
        read_fast(data, URL)
