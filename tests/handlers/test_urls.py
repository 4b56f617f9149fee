"""URL canonicalisation: variant tables of the same page, and pages that must stay apart."""

from __future__ import annotations

import pytest

from handlers.normalize import normalize_article
from handlers.urls import canonical_url, display_url, same_site, url_identity
from tests.articles import article

SAME_PAGE = [
    # tracking parameters, from courlan's list and ours
    (
        "https://example.com/a?utm_source=rss&utm_medium=feed&utm_campaign=x",
        "https://example.com/a",
    ),
    ("https://example.com/a?fbclid=IwAR0abc", "https://example.com/a"),
    ("https://example.com/a?gclid=1&mc_cid=2&mc_eid=3", "https://example.com/a"),
    (
        "https://www.bbc.com/news/articles/cp81?at_medium=RSS&at_campaign=rss",
        "https://www.bbc.com/news/articles/cp81",
    ),
    (
        "https://www.msn.com/en-us/news/x/ar-AA1?ocid=msedgntp&cvid=1",
        "https://www.msn.com/en-us/news/x/ar-AA1",
    ),
    (
        "https://edition.cnn.com/2026/02/18/world/x?cmpid=rss",
        "https://edition.cnn.com/2026/02/18/world/x",
    ),
    ("https://alexwlchan.net/2026/bare-git/?ref=rss", "https://alexwlchan.net/2026/bare-git"),
    (
        "https://www.dw.com/en/x/a-75995188?maca=en-rss-en-all-1573-rdf",
        "https://www.dw.com/en/x/a-75995188",
    ),
    (
        "https://www.csmonitor.com/World/2026/0217/gaza?icid=rss",
        "https://www.csmonitor.com/World/2026/0217/gaza",
    ),
    (
        "https://www.aljazeera.com/news/2026/2/18/x?traffic_source=rss",
        "https://www.aljazeera.com/news/2026/2/18/x",
    ),
    (
        "https://www.nytimes.com/2026/02/18/world/x.html?smid=url-share",
        "https://www.nytimes.com/2026/02/18/world/x.html",
    ),
    # scheme, host case, default port, fragment, user info
    ("HTTPS://Example.COM:443/a#comments", "https://example.com/a"),
    ("http://user:pw@example.com:80/a", "http://example.com/a"),
    # AMP variants
    ("https://example.com/news/story/amp", "https://example.com/news/story"),
    ("https://example.com/news/story/amp/", "https://example.com/news/story"),
    ("https://amp.example.com/news/story", "https://example.com/news/story"),
    ("https://example.com/news/story?amp=1", "https://example.com/news/story"),
    ("https://example.com/news/story?amp", "https://example.com/news/story"),
    ("https://example.com/news/story?outputType=amp", "https://example.com/news/story"),
    ("https://example.com/amp/news/story", "https://example.com/news/story"),
    (
        "https://www-example-com.cdn.ampproject.org/c/s/www.example.com/news/story",
        "https://www.example.com/news/story",
    ),
    # mobile hosts
    ("https://m.example.com/news/story", "https://example.com/news/story"),
    ("https://mobile.example.com/news/story", "https://example.com/news/story"),
    # navigation and tracking fragments
    ("https://example.com/a#respond", "https://example.com/a"),
    ("https://example.com/a#0", "https://example.com/a"),
    ("https://example.com/a#xtor=RSS-1", "https://example.com/a"),
    # trailing slash and index pages
    ("https://example.com/news/", "https://example.com/news"),
    ("https://example.com/news/index.html", "https://example.com/news"),
    ("https://example.com/index.php", "https://example.com/"),
    # parameter order
    ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
]

KEPT = [
    "https://battlefieldanomalies.com/comment-page-1#comment-210335",
    "https://lovergne.dev/awesome#alpine-js",
    "https://www.pagetable.com/?p=1810",
    "https://www.youtube.com/watch?v=f8O3XMrC8hg",
    "https://example.com/article?id=42",
    "https://example.com/view?story=99",
    "https://example.com:8443/a",
]

DIFFERENT_PAGES = [
    ("https://www.pagetable.com/?p=1810", "https://www.pagetable.com/?p=1804"),
    ("https://www.youtube.com/watch?v=a1", "https://www.youtube.com/watch?v=b2"),
    ("https://example.com/a", "https://example.com/b"),
    ("https://example.com/a", "https://example.org/a"),
    ("https://m.example.com/a", "https://example.com/b"),
    ("https://mikhail.io/2021/12/x/", "https://mikhail.io/2020/12/x/"),
    ("https://example.com/amplify", "https://example.com/amp"),
    (
        "https://wiki.example.org/now.html#2026-02-16",
        "https://wiki.example.org/now.html#2026-02-11",
    ),
]


@pytest.mark.parametrize(("variant", "canonical"), SAME_PAGE)
def test_variants_fold_to_one_canonical_url(variant: str, canonical: str) -> None:
    assert canonical_url(variant) == canonical
    assert canonical_url(canonical) == canonical, "canonicalising is idempotent"


@pytest.mark.parametrize("url", KEPT)
def test_content_parameters_are_kept(url: str) -> None:
    assert canonical_url(url) == url


@pytest.mark.parametrize(("first", "second"), DIFFERENT_PAGES)
def test_different_pages_stay_apart(first: str, second: str) -> None:
    assert url_identity(first) != url_identity(second)


@pytest.mark.parametrize(
    "text", ["mailto:someone@example.com", "/relative/path", "http://[::1", "ftp://x.com/a", ""]
)
def test_not_an_http_url_has_no_canonical_form(text: str) -> None:
    assert canonical_url(text) == ""


def test_identity_ignores_scheme_and_www() -> None:
    assert url_identity("http://www.example.com/a/") == url_identity(
        "https://example.com/a?utm_source=x"
    )
    assert url_identity("mailto:x@example.com") == ""


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("https://www.bbc.co.uk/a", "https://news.bbc.co.uk/b", True),
        ("https://www.bbc.co.uk/a", "https://www.theguardian.co.uk/b", False),
        ("https://edition.cnn.com/a", "https://www.cnn.com/b", True),
        ("https://example.com/a", "https://example.org/a", False),
    ],
)
def test_same_site(first: str, second: str, same: bool) -> None:
    assert same_site(first, second) is same


@pytest.mark.parametrize(
    ("link", "shown"),
    [
        (
            "https://www.bbc.co.uk/news/articles/c1?at_medium=RSS&at_campaign=rss",
            "https://www.bbc.co.uk/news/articles/c1",
        ),
        ("https://m.e.com/a/?id=3&utm_source=x&fbclid=y#xtor=RSS-1", "https://m.e.com/a/?id=3"),
        ("https://e.com/a?q=a%2Fb&p=1", "https://e.com/a?q=a%2Fb&p=1"),
        ("https://e.com/live#2026-02-16", "https://e.com/live#2026-02-16"),
        ("https://e.com/AMP/Story/", "https://e.com/AMP/Story/"),
    ],
)
def test_the_link_shown_loses_its_trackers_and_nothing_else(link: str, shown: str) -> None:
    assert display_url(link) == shown
    assert normalize_article(article(url=link)).url == shown


def test_a_link_that_is_not_http_is_shown_as_it_came() -> None:
    assert display_url("  mailto:a@b.example ") == "mailto:a@b.example"
    assert display_url("https://[bad") == "https://[bad"
