"""Feed autodiscovery on web pages: which feeds a page announces."""

from __future__ import annotations

import pytest

from handlers.discovery import (
    MOST,
    common_paths,
    discovery_advice,
    feed_links,
    looks_like_html,
)

PAGE = b"""<!DOCTYPE html><html><head><title>News</title>
<link rel="stylesheet" href="/style.css">
<link rel="alternate" type="application/rss+xml" title="Top stories" href="/rss.xml">
<link rel="alternate" type="application/atom+xml" title="World" href="world/atom.xml">
<link rel="alternate" type="application/feed+json" href="https://cdn.example.net/feed.json">
<link rel="alternate" type="application/rss+xml" title="Top again" href="/rss.xml">
<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
<link rel="alternate" hreflang="fr" href="/fr/">
</head><body><a href="/other.xml" type="application/rss+xml">not a link element</a></body></html>"""


def test_a_page_lists_its_feeds_absolute_once_each_in_page_order() -> None:
    links = feed_links(PAGE, "https://news.example.com/section/index.html")
    assert [(link.url, link.title, link.kind) for link in links] == [
        ("https://news.example.com/rss.xml", "Top stories", "RSS"),
        ("https://news.example.com/section/world/atom.xml", "World", "Atom"),
        ("https://cdn.example.net/feed.json", "", "JSON Feed"),
    ]


def test_a_base_element_sets_where_relative_links_point() -> None:
    page = b'<html><head><base href="https://base.example.org/x/">'
    page += b'<link rel="alternate" type="application/rss+xml" href="feed"></head></html>'
    assert feed_links(page, "https://other.example/")[0].url == "https://base.example.org/x/feed"


def test_at_most_ten_feeds_are_listed() -> None:
    page = b"<html><head>" + b"".join(
        b'<link rel="alternate" type="application/rss+xml" href="/f%d.xml">' % n for n in range(30)
    )
    assert len(feed_links(page + b"</head></html>", "https://e.example/")) == MOST


@pytest.mark.parametrize(
    ("data", "content_type", "page"),
    [
        (b"<!doctype html><html>", "", True),
        (b"\xef\xbb\xbf  <!-- hi --><html lang=en>", "", True),
        (b"<rss version='2.0'>", "", False),
        (b'<?xml version="1.0"?><feed>', "", False),
        (b"{}", "application/feed+json", False),
        (b"<rss>", "text/html; charset=utf-8", True),
    ],
)
def test_a_page_is_told_from_a_feed(data: bytes, content_type: str, page: bool) -> None:
    assert looks_like_html(data, content_type) is page


def test_advice_lists_the_choices_or_the_usual_places() -> None:
    links = feed_links(PAGE, "https://news.example.com/")
    several = discovery_advice("https://news.example.com/", links)
    assert "3 feeds" in several and "1. Top stories: https://news.example.com/rss.xml" in several
    none = discovery_advice("https://news.example.com/world/", [])
    assert "https://news.example.com/feed" in none and "https://news.example.com/rss.xml" in none
    assert common_paths("http://a.example:8080/x")[0] == "http://a.example:8080/feed"


def test_broken_markup_finds_nothing_rather_than_failing() -> None:
    assert feed_links(b"", "https://e.example/") == []
    assert feed_links(b"\x00\xff<html", "https://e.example/") == []
