"""`newsbot digest` and `newsbot feeds add` given a news site's page instead of its feed: pages
served locally, announcing feeds from ``../shared/data/feeds-real``."""

from __future__ import annotations

import json
from pathlib import Path

from tests.bot.cli.test_cli import cli_env, newsbot
from tests.conftest import SHARED
from tests.fakes.feed_server import FeedServer

FEEDS = SHARED / "data" / "feeds-real"


def page(*links: tuple[str, str]) -> str:
    heads = "".join(
        f'<link rel="alternate" type="application/rss+xml" title="{title}" href="{href}">'
        for title, href in links
    )
    return f"<!DOCTYPE html><html><head><title>Site</title>{heads}</head><body>News</body></html>"


def real_feed(server: FeedServer, path: str) -> str:
    name = sorted(p.name for p in FEEDS.iterdir() if p.name not in {"LICENSE", "SOURCES.tsv"})[3]
    return server.add(path, (FEEDS / name).read_bytes(), content_type="application/rss+xml")


async def test_a_page_with_one_feed_is_read_through_it(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    real_feed(feed_server, "/news/rss.xml")
    site = feed_server.add("/news/", page(("Top", "rss.xml")), content_type="text/html")
    code, out, err = await newsbot("digest", site, "--format", "json", env=cli_env(tmp_path))
    assert code == 0, err
    document = json.loads(out)
    assert document["items"] and document["stats"]["errors"] == []
    assert feed_server.hits["/news/rss.xml"] == 1, "the relative link was resolved"


async def test_a_page_with_several_feeds_or_none_says_what_to_do(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    several = feed_server.add(
        "/several", page(("World", "/world.xml"), ("Sport", "/sport.xml")), content_type="text/html"
    )
    bare = feed_server.add("/bare", page(), content_type="text/html")
    real = real_feed(feed_server, "/feed.xml")
    code, out, err = await newsbot(
        "digest", several, bare, real, "--format", "json", env=cli_env(tmp_path)
    )
    assert code == 0, err
    errors = {e["source"]: e["error"] for e in json.loads(out)["stats"]["errors"]}
    assert "names 2 feeds" in errors[several]
    assert f"1. World: {feed_server.url('/world.xml')}" in errors[several]
    assert "names no feed" in errors[bare] and feed_server.url("/feed") in errors[bare]
    assert feed_server.hits["/world.xml"] == 0, "nothing is fetched without the user's choice"


async def test_feeds_add_takes_a_page_for_its_feed(tmp_path: Path, feed_server: FeedServer) -> None:
    feed = real_feed(feed_server, "/site/feed.xml")
    one = feed_server.add("/site/", page(("Top", "/site/feed.xml")), content_type="text/html")
    several = feed_server.add(
        "/two", page(("A", "/a.xml"), ("B", "/b.xml")), content_type="text/html"
    )
    env = cli_env(tmp_path)
    code, out, err = await newsbot("feeds", "add", one, env=env)
    assert code == 0, err
    assert f"{one} is a web page; its feed is {feed}" in out
    code, out, _ = await newsbot("feeds", "list", "--format", "json", env=env)
    assert [f["url"] for f in json.loads(out)] == [feed]
    code, _, err = await newsbot("feeds", "add", several, env=env)
    assert code == 1 and "names 2 feeds" in err and feed_server.url("/b.xml") in err
