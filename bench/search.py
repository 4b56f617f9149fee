"""Search benchmark: `/news search` over a million stored stories in 500 channels.

The stories are the real entries of feeds-real (their titles and texts), each used again
under links of its own until there are `--stories` of them, spread over 2,000 feeds and the
last 29 days. They are stored through the product's path for history in bulk: the
store-only pipeline a new feed's older entries take (normalise, dedup, lead, store,
index). Each of the 500 Slack channels follows four feeds of its own; a channel sees its
own feeds' copies only (`handlers.visibility`).

It reports the build (stories/s) and Redis memory (bytes per story, the search index
counted, and the largest key families); then, for each query of the search tests, asked
in 50 channels and by the operator (every feed), the latency p50 and p99 (target:
p99 < 100 ms), and the worst query of the hostile-input benchmark (an OR-chain of
title:/source: terms) against its CPU budget (NEWSBOT_SEARCH_BUDGET_MS, 200 ms: it may
answer partial, never later). Target memory: at most 2 KB per story.

    python bench/search.py                  # 1,000,000 stories, 500 channels
    python bench/search.py --stories 100000
    python bench/search.py --smoke          # 5,000 stories, 20 channels (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from datetime import UTC, datetime

from _corpus import FEEDS, ROOT
from _figures import percentile
from _redis_memory import memory_by_family
from _stories import private_store, story, templates

sys.path.insert(0, str(ROOT))  # the private Redis lives with the tests

from bot.roles.pipeline import build_backlog_pipeline
from bot.store.audience import AudienceStore
from bot.store.search_index import SEARCH_BUDGET_MS, SearchIndex
from bot.store.subscriptions import SubscriptionStore
from handlers.channels import ChannelRef
from handlers.visibility import EVERYTHING, Audience

RETENTION = 30 * 86400
FEEDS_PER_CHANNEL = 4
# The queries of tests/bot/store/test_search_index.py.
QUERIES = [
    "ukraine",
    "ukraine -football",
    '"peace talks"',
    "geneva",
    "title:geneva",
    "rate",
    "zurich OR wales",
    "bank AND (rates OR inflation)",
    "source:reuters",
]
WORDS = ["harbour", "report", "tides", "ships", "council", "budget"]


def worst_query() -> str:
    """The hostile-input benchmark's worst query: title:/source: terms ORed to ~480 chars."""
    terms = [f"{field}:{w}" for w in WORDS * 4 for field in ("title", "source")]
    while len(" OR ".join(terms)) > 480:
        terms.pop()
    return " OR ".join(terms)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=1_000_000)
    parser.add_argument("--channels", type=int, default=500)
    parser.add_argument("--asked-in", type=int, default=50, help="channels each query runs in")
    parser.add_argument("--smoke", action="store_true", help="5,000 stories, 20 channels (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.stories, args.channels, args.asked_in = 5000, 20, 5
    feeds = args.channels * FEEDS_PER_CHANNEL
    now = datetime.now(UTC)
    bases = templates(FEEDS)
    print(
        f"stories: {args.stories:,} from {len(bases):,} real entries, {feeds:,} feeds, "
        f"{args.channels} channels following {FEEDS_PER_CHANNEL} feeds each"
    )
    async with private_store("search") as (_settings, handle):
        client, keys = handle.client, handle.keys
        subscriptions = SubscriptionStore(client, keys)
        channels = [ChannelRef("slack", "T1", f"C{c}") for c in range(args.channels)]
        for number, channel in enumerate(channels):
            for feed in range(FEEDS_PER_CHANNEL):
                feed_id = f"f{number * FEEDS_PER_CHANNEL + feed + 1}"
                await subscriptions.subscribe(
                    channel, feed_id, now=now.timestamp(), mode="digest", added_by="b"
                )
        pipeline = build_backlog_pipeline(client, keys, ttl=RETENTION)
        before = int((await client.info("memory"))["used_memory"])
        started = time.perf_counter()
        batch = 500
        for first in range(0, args.stories, batch):
            await pipeline.process(
                [
                    story(bases[n % len(bases)], n, feeds, args.stories, now)
                    for n in range(first, min(first + batch, args.stories))
                ]
            )
            if first and first % 100_000 == 0:
                rate = first / (time.perf_counter() - started)
                print(f"  {first:,} stored, {rate:,.0f}/s", flush=True)
        built = time.perf_counter() - started
        stored = int(await client.zcard(keys.stories))
        used = int((await client.info("memory"))["used_memory"]) - before
        print(
            f"build: {stored:,} stories in {built:.0f} s ({stored / built:,.0f}/s, the "
            f"store-only path); Redis {used / 2**20:,.0f} MB, {used / stored:,.0f} B "
            "per story with the search index (target <= 2,048)"
        )
        for name, count, size in (await memory_by_family(client))[:6]:
            print(f"    {size / 2**20:8.1f} MB  {count:9,} keys  {name}")
        await report_queries(handle.client, keys, channels, args)


async def report_queries(client, keys, channels, args) -> None:  # type: ignore[no-untyped-def]
    index = SearchIndex(client, keys, ttl=RETENTION)
    audiences = AudienceStore(client, keys)
    rng = random.Random(7)
    asked = rng.sample(channels, min(args.asked_in, len(channels)))
    views: list[tuple[str, Audience]] = [("operator", EVERYTHING)]
    views += [(str(c), await audiences.for_channel(c)) for c in asked]
    await index.search("warm up")
    every: list[float] = []
    print(f"queries, each asked by the operator and in {len(asked)} channels:")
    for query in QUERIES:
        times, hits, partial = [], 0, 0
        for _name, audience in views:
            started = time.perf_counter()
            found = await index.search(query, audience=audience)
            times.append((time.perf_counter() - started) * 1000)
            hits += len(found.items)
            partial += found.partial
        every += times
        print(
            f"  {query:<32} p50 {percentile(times, 0.5):6.1f} ms  p99 "
            f"{percentile(times, 0.99):6.1f} ms  hits/ask {hits / len(views):4.1f}"
            + (f"  partial {partial}" if partial else "")
        )
    print(
        f"all queries: p50 {percentile(every, 0.5):.1f} ms, p99 {percentile(every, 0.99):.1f} ms "
        "(target p99 < 100 ms)"
    )
    worst = worst_query()
    started = time.perf_counter()
    found = await index.search(worst, limit=1000)
    took = (time.perf_counter() - started) * 1000
    print(
        f"worst query ({len(worst)} chars, operator): {took:.0f} ms wall, "
        f"{'partial' if found.partial else 'complete'}, {len(found.items)} hits; "
        f"CPU budget {SEARCH_BUDGET_MS:.0f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
