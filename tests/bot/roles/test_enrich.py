"""Thin feeds: the article page is fetched and its main text, not its chrome, is summarised."""

from __future__ import annotations

from bot.net.fetch import Fetcher
from bot.net.guard import allow_any, public_only
from bot.net.pages import FetcherPages
from bot.roles.pipeline import build_pipeline
from bot.store.connection import RedisHandle
from bot.store.stories import load_stories
from handlers.text import split_sentences
from tests.articles import article
from tests.fakes.feed_server import FeedServer
from tests.scraped_page import CHROME_MARKERS, article_lines, page_html


async def test_a_thin_entry_is_summarised_from_its_page(
    handle: RedisHandle, feed_server: FeedServer
) -> None:
    url = feed_server.add("/nk.html", page_html(), content_type="text/html")
    thin = article(
        url=url,
        title="North Koreans sent to work 'like slaves' in Russia",
        description="<p>Read the full story.</p>",
    )
    async with Fetcher(policy=allow_any) as fetcher:
        pipeline = build_pipeline(handle.client, handle.keys, ttl=3600, pages=FetcherPages(fetcher))
        [stored] = (await pipeline.process([thin])).articles
    body = " ".join(article_lines()[1:])
    sentences = split_sentences(stored.summary)
    assert sentences and all(s in body for s in sentences)
    assert not any(marker in stored.summary for marker in CHROME_MARKERS)
    assert feed_server.hits["/nk.html"] == 1


async def test_a_page_that_cannot_be_read_keeps_the_feed_text(
    handle: RedisHandle, feed_server: FeedServer
) -> None:
    url = feed_server.add("/nk.html", page_html(), content_type="text/html")
    thin = article(url=url, description="<p>Short lead from the feed. It stays.</p>")
    async with Fetcher(policy=public_only) as fetcher:  # loopback refused
        pipeline = build_pipeline(handle.client, handle.keys, ttl=3600, pages=FetcherPages(fetcher))
        outcome = await pipeline.process([thin])
    assert [a.summary for a in outcome.articles] == ["Short lead from the feed. It stays."]
    assert outcome.failures == [] and feed_server.hits["/nk.html"] == 0


async def test_a_declared_canonical_url_folds_an_aggregator_copy(
    handle: RedisHandle, feed_server: FeedServer
) -> None:
    canonical = feed_server.url("/world/nk-workers")
    html = page_html().replace("<head>", f"<head><link rel='canonical' href='{canonical}'>")
    feed_server.add("/world/nk-workers", html, content_type="text/html")
    viewer = feed_server.add("/reader/view?id=991", html, content_type="text/html")
    original = article(
        feed_id="bbc",
        entry_key="bbc-1",
        url=canonical,
        description="<p>" + " ".join(article_lines()[1:4]) + "</p>" * 1,
    )
    aggregated = article(
        feed_id="agg",
        entry_key="agg-1",
        url=viewer,
        title="Workers in Russia",
        description="<p>See more.</p>",
    )
    async with Fetcher(policy=allow_any) as fetcher:
        pipeline = build_pipeline(handle.client, handle.keys, ttl=3600, pages=FetcherPages(fetcher))
        [first] = (await pipeline.process([original])).articles
        [copy] = (await pipeline.process([aggregated])).articles
    assert copy.canonical_url == canonical and copy.story_id == first.story_id
    [story] = await load_stories(handle.client, handle.keys, [first.story_id])
    assert sorted(c.feed_id for c in story.copies) == ["agg", "bbc"]


async def test_an_edit_of_a_thin_entry_with_a_canonical_link_updates_its_story(
    handle: RedisHandle, feed_server: FeedServer
) -> None:
    """The page's canonical link gives the story its id after the entry was claimed; an
    edit of the entry must update that story, and make no story of its own."""
    canonical = feed_server.url("/world/nk-workers")
    html = page_html().replace("<head>", f"<head><link rel='canonical' href='{canonical}'>")
    viewer = feed_server.add("/reader/view?id=991", html, content_type="text/html")
    thin = article(entry_key="agg-1", url=viewer, title="Workers", description="<p>More.</p>")
    async with Fetcher(policy=allow_any) as fetcher:
        pipeline = build_pipeline(handle.client, handle.keys, ttl=3600, pages=FetcherPages(fetcher))
        [first] = (await pipeline.process([thin])).articles
        [edit] = (
            await pipeline.process([thin.evolve(title="Workers sent to Russia", ingest_id="2")])
        ).articles
    assert first.canonical_url == canonical
    assert edit.update and edit.story_id == first.story_id
    stored = [k async for k in handle.client.scan_iter(match=handle.keys.story("*"))]
    assert stored == [handle.keys.story(first.story_id)], "no phantom story"
    [story] = await load_stories(handle.client, handle.keys, [first.story_id])
    assert [c.title for c in story.copies] == ["Workers sent to Russia"]
