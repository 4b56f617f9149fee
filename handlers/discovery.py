"""Feed autodiscovery: the feeds a web page announces for itself.

A news site's page names its feeds in ``<link rel="alternate" type="application/rss+xml"
href="…" title="…">`` (Atom and JSON Feed alike). Given the page's bytes and its address,
`feed_links` lists them, absolute, without repeats and in page order, at most `MOST`.
`looks_like_html` tells a page from a feed before anything is parsed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml import html as lxml_html

MOST = 10
FEED_TYPES = {
    "application/rss+xml": "RSS",
    "application/atom+xml": "Atom",
    "application/feed+json": "JSON Feed",
    "application/json": "JSON Feed",
    "application/rdf+xml": "RSS",
}
COMMON_PATHS = ("/feed", "/rss.xml", "/feed.xml", "/atom.xml", "/index.xml", "/rss")
_HTML = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html\b|head\b|body\b)", re.I | re.S)


@dataclass(frozen=True)
class FeedLink:
    """One feed a page announces."""

    url: str
    title: str
    kind: str  # RSS, Atom or JSON Feed


def looks_like_html(data: bytes, content_type: str = "") -> bool:
    """A web page rather than a feed: by its Content-Type, else by how it starts."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind in {"text/html", "application/xhtml+xml"}:
        return True
    if kind and ("xml" in kind or "json" in kind):
        return False
    return bool(_HTML.match(data[:2048].lstrip(b"\xef\xbb\xbf")))


def feed_links(data: bytes, base_url: str) -> list[FeedLink]:
    """The feeds the page at `base_url` announces (http(s) only), at most `MOST`."""
    try:
        document = lxml_html.document_fromstring(data)
    except (etree.ParserError, ValueError):
        return []
    base = base_url
    for element in document.iter("base"):
        if element.get("href"):
            base = urljoin(base_url, element.get("href", ""))
            break
    found: dict[str, FeedLink] = {}
    for element in document.iter("link"):
        rel = {r.lower() for r in (element.get("rel") or "").split()}
        kind = FEED_TYPES.get((element.get("type") or "").split(";", 1)[0].strip().lower())
        href = (element.get("href") or "").strip()
        if "alternate" not in rel or kind is None or not href:
            continue
        url = urljoin(base, href)
        if urlsplit(url).scheme not in {"http", "https"} or url in found:
            continue
        title = " ".join((element.get("title") or "").split())[:120]
        found[url] = FeedLink(url, title, kind)
        if len(found) == MOST:
            break
    return list(found.values())


def common_paths(page_url: str) -> list[str]:
    """Where sites usually put their feed, on the page's own host."""
    parts = urlsplit(page_url)
    return [f"{parts.scheme}://{parts.netloc}{path}" for path in COMMON_PATHS]


def discovery_advice(page_url: str, links: list[FeedLink]) -> str:
    """What to tell someone who gave a page with no feed or several instead of a feed."""
    if not links:
        tries = " or ".join(common_paths(page_url)[:2])
        return (
            "this is a web page, not a feed, and it names no feed; sites often keep theirs "
            f"at {tries}"
        )
    listed = "; ".join(
        f"{number}. {link.title or link.kind}: {link.url}"
        for number, link in enumerate(links, start=1)
    )
    return f"this web page names {len(links)} feeds; give the one you want: {listed}"
