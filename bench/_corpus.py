"""The real-feed corpus for the benchmarks: ``../shared/data/feeds-real`` and its clock."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web
from redis.asyncio import Redis

from bot.errors import ParseError
from bot.net.parse import FeedRef, parse_feed
from bot.roles.worker import PipelineWorker
from bot.store.keys import Keys

ROOT = Path(__file__).resolve().parents[1]
FEEDS = ROOT.parent / "shared" / "data" / "feeds-real"


def load_feeds(folder: Path = FEEDS, limit: int | None = None) -> list[tuple[str, bytes]]:
    """(file name, bytes) of each feed document, in file-name order."""
    files = sorted(p for p in folder.iterdir() if p.name not in {"LICENSE", "SOURCES.tsv"})
    return [(p.name, p.read_bytes()) for p in files[:limit]]


def sources(folder: Path = FEEDS) -> dict[str, str]:
    """File name -> the feed's original URL, from SOURCES.tsv."""
    rows = (line.split("\t") for line in (folder / "SOURCES.tsv").read_text().splitlines())
    return {row[0]: row[2] for row in rows if len(row) >= 3 and row[0] != "id"}


def fetched_at(feeds: list[tuple[str, bytes]]) -> datetime:
    """When the corpus was fetched: just after its newest entry that is not in the future.

    The benchmarks run "as of" then, so windows measured from now (the fold index keeps
    four days) see the corpus as the recent news it was.
    """
    now = datetime.now(UTC)
    newest = datetime(2000, 1, 1, tzinfo=UTC)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, data in feeds:
            try:
                parsed = parse_feed(data, FeedRef("x", name), now=now)
            except ParseError:
                continue
            for article in parsed.articles:
                if article.published and newest < article.published <= now:
                    newest = article.published
    return newest + timedelta(hours=1)


async def serve_feeds(feeds: dict[str, bytes]) -> tuple[web.AppRunner, int]:
    """The feeds on a local HTTP server (``/{file name}``; anything else 404, as thin
    items' article pages are); its runner, to clean up, and its port."""
    farm = web.Application()

    async def serve(request: web.Request) -> web.Response:
        body = feeds.get(request.match_info["name"])
        return web.Response(body=body, content_type="text/xml", status=200 if body else 404)

    farm.router.add_get("/{name}", serve)
    runner = web.AppRunner(farm, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, int(runner.addresses[0][1])


async def ingest_feeds(
    client: Redis,
    keys: Keys,
    worker: PipelineWorker,
    feeds: list[tuple[str, bytes]],
    now: datetime,
) -> int:
    """Parse each feed as the poller would (feed ``f<n>``), queue its entries on the
    entries stream and let the worker drain them through the pipeline; how many entries."""
    entries = 0
    for number, (name, data) in enumerate(feeds):
        try:
            parsed = parse_feed(
                data, FeedRef(f"f{number}", f"https://bench.invalid/{name}"), now=now
            )
        except ParseError:
            continue  # a per-feed error, as the poller records it
        entries += len(parsed.articles)
        async with client.pipeline(transaction=False) as pipe:
            for article in parsed.articles:
                pipe.xadd(keys.entries, {"a": json.dumps(article.to_dict(), ensure_ascii=False)})
            await pipe.execute()
        await worker.drain()
    return entries
