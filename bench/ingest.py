"""Ingest benchmark: the whole pipeline against feedparser alone, on the same feed bytes.

Prints, from one run: entries/s through the whole pipeline (parse, queue on the entries
stream, consume, normalize, dedup, summarize, store), entries/s of feedparser alone on the
same bytes, their ratio, and Redis bytes per stored article. Targets (issue #2): the
pipeline costs at most 2x parsing alone; at most 2 KB of Redis per stored article.

The pipeline also runs with the visibility rule switched off (`build_pipeline(visibility=
False)`: copies keep nothing of their own, are not indexed for search, and alerts see every
feed), as the baseline of what the rule costs (issue #20: at most 10%), with Redis bytes
per story and per copy on both sides.

Then the event loop's longest stall while the poller fetches every feed from a local HTTP
server and a pipeline worker ingests them, as `newsbot run` does, next to the same sampler
on an idle loop (issue #9: at most 100 ms).

    python bench/ingest.py                 # the 200 real feeds in ../shared/data/feeds-real
    python bench/ingest.py --smoke         # five feeds, one run (CI)
    python bench/ingest.py --alerts 10000  # with 10,000 alerts loaded (target: still <= 2x)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import time
import warnings
from datetime import datetime
from pathlib import Path

import feedparser
from _alert_queries import alert_queries
from _corpus import FEEDS, fetched_at, ingest_feeds, load_feeds
from aiohttp import web

from bot.errors import ParseError
from bot.loop_lag import LoopLag, favour_the_loop
from bot.metrics import Metrics
from bot.net.fetch import Fetcher
from bot.net.guard import allow_any
from bot.net.parse import FeedRef, parse_feed
from bot.roles.pipeline import build_pipeline
from bot.roles.poller import Poller
from bot.roles.worker import PipelineWorker, ensure_group
from bot.settings import load_settings
from bot.store.alerts import AlertStore
from bot.store.connection import RedisHandle, open_redis
from bot.store.subscriptions import SubscriptionStore
from bot.store.watchlist import Watchlist
from handlers.channels import ChannelRef

RETENTION = 30 * 86400


def parse_alone(feeds: list[tuple[str, bytes]]) -> tuple[int, float]:
    started = time.perf_counter()
    entries = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _name, data in feeds:
            entries += len(feedparser.parse(io.BytesIO(data)).entries)
    return entries, time.perf_counter() - started


async def load_alerts(handle: RedisHandle, feeds: list[tuple[str, bytes]], count: int) -> None:
    """`count` alerts drawn from the feeds' titles, made in a public channel that follows
    every feed, so each match goes the whole way (scope, pause, batch, outbox)."""
    stories = []
    for number, (name, data) in enumerate(feeds):
        with contextlib.suppress(ParseError):
            stories += [
                (a.title, a.description or a.content)
                for a in parse_feed(data, FeedRef(f"f{number}", name)).articles
            ]
    channel = ChannelRef("console", "local", "main")
    subscriptions = SubscriptionStore(handle.client, handle.keys)
    for number in range(len(feeds)):
        await subscriptions.subscribe(channel, f"f{number}", now=0, added_by="bench")
    await subscriptions.set_visibility(channel, public=True)
    store = AlertStore(handle.client, handle.keys)
    for number, query in enumerate(alert_queries(stories, count)):
        await store.add(
            origin=channel, user=f"u{number % 500}", query=query, channel=None, limit=count, now=0
        )


async def whole_pipeline(
    handle: RedisHandle,
    feeds: list[tuple[str, bytes]],
    now: datetime,
    *,
    alerts: int = 0,
    visibility: bool = True,
) -> tuple[int, float, dict[str, float]]:
    client, keys = handle.client, handle.keys
    await client.flushdb()
    await ensure_group(client, keys)
    if alerts:
        await load_alerts(handle, feeds, alerts)
    pipeline = build_pipeline(
        client, keys, ttl=RETENTION, clock=now.timestamp, visibility=visibility
    )
    worker = PipelineWorker(
        client=client,
        blocking=handle.blocking,
        keys=keys,
        pipeline=pipeline,
        metrics=Metrics(),
        consumer="bench",
    )
    started = time.perf_counter()
    entries = await ingest_feeds(client, keys, worker, feeds, now)
    return entries, time.perf_counter() - started, dict(pipeline.timings)


async def loop_stalls(handle: RedisHandle, feeds: list[tuple[str, bytes]]) -> tuple[float, float]:
    """The longest event loop stall (s) on an idle loop, then while polling and ingesting."""
    favour_the_loop()  # as newsbot run does
    idle = LoopLag(every=0.01)
    quiet = asyncio.Event()
    watching = asyncio.create_task(idle.watch(quiet))
    await asyncio.sleep(2.0)
    quiet.set()
    await watching
    client, keys = handle.client, handle.keys
    await client.flushdb()
    await ensure_group(client, keys)
    files = dict(feeds)

    async def serve(request: web.Request) -> web.Response:
        body = files.get(request.match_info["name"])  # article pages of thin items: 404
        return web.Response(body=body, content_type="text/xml", status=200 if body else 404)

    app = web.Application()
    app.router.add_get("/{name}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    metrics = Metrics()
    watchlist = Watchlist(client, keys)
    for name in files:
        await watchlist.add(f"http://127.0.0.1:{port}/{name}", now=time.time())
    busy = LoopLag(every=0.01)
    stop = asyncio.Event()
    async with Fetcher(policy=allow_any) as fetcher:
        poller = Poller(client=client, keys=keys, fetcher=fetcher, interval=3600, metrics=metrics)
        worker = PipelineWorker(
            client=client,
            blocking=handle.blocking,
            keys=keys,
            pipeline=build_pipeline(client, keys, ttl=RETENTION),
            metrics=metrics,
            consumer="bench",
        )
        tasks = [
            asyncio.create_task(busy.watch(stop)),
            asyncio.create_task(poller.run(stop)),
            asyncio.create_task(worker.run(stop)),
        ]
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            # Progress from the metrics (reading 200 feed records would stall the loop too).
            polled = sum(
                metrics.registry.get_sample_value(f"newsbot_feeds_{kind}_total") or 0
                for kind in ("polled", "failed")
            )
            if polled >= len(files) and not await client.xlen(keys.entries):
                break
        stop.set()
        await asyncio.gather(*tasks)
    await runner.cleanup()
    return idle.longest, busy.longest


async def empty_memory(handle: RedisHandle) -> int:
    """used_memory of the empty database, what `redis_bytes_per_article` subtracts."""
    await handle.client.flushdb()
    return int((await handle.client.info("memory"))["used_memory"])


async def redis_bytes_per_article(handle: RedisHandle, empty: int) -> tuple[int, int, float]:
    """Stored stories, their copies, and used_memory with everything stored minus empty,
    per story."""
    client, keys = handle.client, handle.keys
    stories = await client.zcard(keys.stories)
    copies = 0
    async for key in client.scan_iter(match=keys.story("*"), count=1000):
        raw = await client.get(key)
        copies += len(json.loads(raw)["c"]) if raw else 0
    await client.delete(keys.entries, keys.failures)  # work queues, not storage
    stored = (await client.info("memory"))["used_memory"]
    return stories, copies, (stored - empty) / max(stories, 1)


async def key_sizes(handle: RedisHandle) -> dict[str, float]:
    """Average MEMORY USAGE of each kind of per-article key, from a sample."""
    client, keys = handle.client, handle.keys
    sizes: dict[str, float] = {}
    for kind, pattern in (
        ("story", keys.story("*")),
        ("entry key", keys.entry_seen("*", "*")),
        ("url key", keys.url_seen("*")),
    ):
        found = [k async for k in client.scan_iter(match=pattern, count=1000)][:500]
        usage = [await client.memory_usage(k) or 0 for k in found]
        sizes[kind] = sum(usage) / max(len(usage), 1)
    found = [k async for k in client.scan_iter(match=keys.fold_index("*", "*"), count=1000)]
    counts = {str(k) for k in found if str(k).endswith((":df", ":dn"))}
    buckets = [k for k in found if str(k) not in counts]
    usage = [await client.memory_usage(k) or 0 for k in buckets]
    fields = [await client.hlen(k) for k in buckets]
    sizes["fold index per key"] = sum(usage) / max(sum(fields), 1)
    stories = max(await client.zcard(keys.stories), 1)
    frequencies = sum([await client.memory_usage(k) or 0 for k in counts])
    sizes["word counts per story"] = frequencies / stories
    search = [k async for k in client.scan_iter(match=keys.search_words("*", "*"), count=1000)]
    search_bytes = sum([await client.memory_usage(k) or 0 for k in search])
    sizes["search index per story"] = search_bytes / stories
    return sizes


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="only the first N feed files")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side; best is kept")
    parser.add_argument("--feeds", type=Path, default=FEEDS)
    parser.add_argument("--smoke", action="store_true", help="tiny input, one run (for CI)")
    parser.add_argument(
        "--alerts", type=int, default=0, help="with this many alerts loaded (issue #13)"
    )
    args = parser.parse_args()
    if args.smoke:
        args.limit, args.repeat = 5, 1
    feeds = load_feeds(args.feeds, args.limit)
    now = fetched_at(feeds)
    settings = load_settings({})
    parse_runs: list[float] = []
    runs: dict[bool, list[float]] = {True: [], False: []}
    sizes: dict[bool, dict[str, float]] = {}
    stored: dict[bool, tuple[int, int, float]] = {}
    async with open_redis(settings, ephemeral=True) as handle:
        empty = await empty_memory(handle)
        for _ in range(args.repeat):
            parsed_entries, seconds = parse_alone(feeds)
            parse_runs.append(seconds)
            for visibility in (False, True):  # the rule's run last: its state is measured
                entries, seconds, timings = await whole_pipeline(
                    handle, feeds, now, alerts=args.alerts, visibility=visibility
                )
                runs[visibility].append(seconds)
                sizes[visibility] = await key_sizes(handle)
                stored[visibility] = await redis_bytes_per_article(handle, empty)
        idle_stall, busy_stall = await loop_stalls(handle, feeds)
    parse_best, pipeline_best, baseline_best = min(parse_runs), min(runs[True]), min(runs[False])
    print(f"feeds: {len(feeds)}   entries: {entries} (feedparser alone: {parsed_entries})")
    print(
        f"feedparser alone (baseline): {parsed_entries / parse_best:8.0f} entries/s "
        f"({parse_best:.2f} s, best of {args.repeat})"
    )
    loaded = f", {args.alerts:,} alerts loaded" if args.alerts else ""
    print(
        f"whole pipeline{loaded}:              {entries / pipeline_best:8.0f} entries/s "
        f"({pipeline_best:.2f} s, best of {args.repeat})"
    )
    print(f"pipeline cost / parse cost:  {pipeline_best / parse_best:8.2f}x   (target <= 2.00x)")
    print(
        f"  without the visibility rule (baseline): {entries / baseline_best:8.0f} entries/s "
        f"({baseline_best:.2f} s); the rule costs {pipeline_best / baseline_best - 1:+.1%} "
        "(target <= +10%)"
    )
    steps = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in timings.items())
    print(f"  last run's pipeline steps: {steps}")
    for visibility, label in ((True, "with the rule"), (False, "baseline     ")):
        stories, copies, per_article = stored[visibility]
        story_bytes = sizes[visibility]["story"]
        print(
            f"{label}: stored stories {stories}, copies {copies}; Redis bytes per stored "
            f"article {per_article:.0f} (target <= 2048); story key {story_bytes:.0f} B, "
            f"per copy {story_bytes * stories / max(copies, 1):.0f} B; search index per story "
            f"{sizes[visibility]['search index per story']:.0f} B"
        )
    print("  average key sizes: " + ", ".join(f"{k} {v:.0f} B" for k, v in sizes[True].items()))
    print(f"event loop, longest stall on an idle loop (baseline): {idle_stall * 1000:6.1f} ms")
    print(
        f"event loop, longest stall polling + ingesting:       {busy_stall * 1000:6.1f} ms "
        "(target <= 100 ms)"
    )


if __name__ == "__main__":
    asyncio.run(main())
