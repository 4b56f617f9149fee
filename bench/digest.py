"""Digest and search benchmark: building and rendering digests for many channels, and search
latency over a full retention window of stories.

Prints, from one run on the real-feed corpus (stored through the whole pipeline first):

- reading 1,000 channels' pending stories (50 each) from Redis: the baseline;
- building (rank, cap) and rendering (Slack Block Kit and Discord embeds) those digests,
  and the scheduler's whole path (read + build + render) for comparison;
- `/news search` latency, median and p99, over 100,000 stored stories spread over 30 days
  (the corpus's stories copied under new ids and days), for a mix of query shapes.

    python bench/digest.py            # 1,000 channels x 50 stories; 100k stories searched
    python bench/digest.py --smoke    # a few feeds, 20 channels, 2,000 stories (CI)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import datetime, timedelta

from _corpus import FEEDS, fetched_at, load_feeds
from ingest import RETENTION, whole_pipeline

from bot.render.discord_embeds import render_discord
from bot.render.slack_blocks import render_slack
from bot.settings import load_settings
from bot.store.connection import RedisHandle, open_redis
from bot.store.search_index import SearchEntry, SearchIndex, indexable
from bot.store.stories import load_stories
from handlers.digest import build_digest
from handlers.query import words_of
from handlers.story import Story


async def pending_sets(handle: RedisHandle, ids: list[str], channels: int, per: int) -> None:
    """Give each channel `per` pending stories, a different slice of the stored ones each."""
    client, keys = handle.client, handle.keys
    async with client.pipeline(transaction=False) as pipe:
        for number in range(channels):
            start = (number * 7) % max(len(ids) - per, 1)
            chosen = {story_id: float(n) for n, story_id in enumerate(ids[start : start + per])}
            pipe.zadd(keys.channel_pending(f"slack:T1:C{number}"), chosen)
        await pipe.execute()


async def read_channel(handle: RedisHandle, number: int) -> list[Story]:
    key = handle.keys.channel_pending(f"slack:T1:C{number}")
    ids = [str(i) for i in await handle.client.zrange(key, 0, -1)]
    return await load_stories(handle.client, handle.keys, ids)


def build_and_render(stories: list[Story], now: datetime) -> int:
    digest = build_digest(
        stories, heading="News digest", since=now - timedelta(days=1), now=now, cap=10
    )
    return len(render_slack(digest)) + len(render_discord(digest))


async def digest_timings(
    handle: RedisHandle, channels: int, now: datetime
) -> tuple[float, float, float, int]:
    """(read s, build+render s, whole path s, messages) over every channel."""
    started = time.perf_counter()
    loaded = [await read_channel(handle, n) for n in range(channels)]
    read = time.perf_counter() - started
    started = time.perf_counter()
    messages = sum(build_and_render(stories, now) for stories in loaded)
    built = time.perf_counter() - started
    started = time.perf_counter()
    for number in range(channels):
        build_and_render(await read_channel(handle, number), now)
    whole = time.perf_counter() - started
    return read, built, whole, messages


async def fill_search(
    handle: RedisHandle, stories: list[Story], total: int, now: datetime
) -> tuple[SearchIndex, float]:
    """Store and index `total` stories (copies of the corpus's) over 30 days."""
    client, keys = handle.client, handle.keys
    index = SearchIndex(client, keys, ttl=RETENTION, clock=now.timestamp)
    raw = await client.mget([keys.story(s.id) for s in stories])
    started = time.perf_counter()
    batch: list[SearchEntry] = []
    for number in range(total):
        story = stories[number % len(stories)]
        new_id = f"{story.id[:8]}{number:08x}"
        when = now - timedelta(seconds=(number * 2591) % (30 * 86400))
        primary = story.primary()
        batch.append(SearchEntry(new_id, when, primary.title, story.summary, primary.source))
        if len(batch) == 500 or number == total - 1:
            async with client.pipeline(transaction=False) as pipe:
                for entry in batch:
                    source = raw[int(entry.story_id[8:], 16) % len(stories)]
                    pipe.set(keys.story(entry.story_id), source, ex=RETENTION)
                await pipe.execute()
            await index.add(batch)
            batch = []
    return index, time.perf_counter() - started


def queries(stories: list[Story], count: int, seed: int = 7) -> list[str]:
    """A mix of what people search for: words, pairs, phrases, OR, NOT and field prefixes."""
    rng = random.Random(seed)
    titles = [words_of(s.primary().title) for s in stories]
    titles = [t for t in titles if len(t) >= 3]
    made: list[str] = []
    while len(made) < count:
        words = [w for w in rng.choice(titles) if len(w) > 3 and indexable(w)] or ["news"]
        shape = len(made) % 6
        if shape == 0:
            made.append(rng.choice(words))
        elif shape == 1:
            made.append(" ".join(rng.sample(words, min(2, len(words)))))
        elif shape == 2:
            made.append(f'"{" ".join(words[:2])}"')
        elif shape == 3:
            made.append(f"{rng.choice(words)} OR {rng.choice(words)}")
        elif shape == 4:
            made.append(f"{rng.choice(words)} -sport")
        else:
            made.append(f"title:{rng.choice(words)}")
    return made


async def search_latency(
    index: SearchIndex, asked: list[str], feed_ids: list[str]
) -> tuple[list[float], int]:
    latencies, found = [], 0
    for query in asked:
        started = time.perf_counter()
        found += len(await index.search(query, feed_ids=feed_ids, limit=10))
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies, found


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * share), len(ordered) - 1)]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--per-channel", type=int, default=50)
    parser.add_argument("--search-stories", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--smoke", action="store_true", help="tiny input (for CI)")
    args = parser.parse_args()
    feeds = load_feeds(FEEDS, 5 if args.smoke else None)
    if args.smoke:
        args.channels, args.search_stories, args.queries = 20, 2000, 30
    now = fetched_at(feeds)
    async with open_redis(load_settings({}), ephemeral=True) as handle:
        entries, _seconds, _timings = await whole_pipeline(handle, feeds, now)
        ids = [str(i) for i in await handle.client.zrevrange(handle.keys.stories, 0, -1)]
        stories = await load_stories(handle.client, handle.keys, ids)
        await pending_sets(handle, ids, args.channels, args.per_channel)
        read, built, whole, messages = await digest_timings(handle, args.channels, now)
        index, indexing = await fill_search(handle, stories, args.search_stories, now)
        feed_ids = sorted({c.feed_id for s in stories for c in s.copies})
        channel_feeds = feed_ids[: max(len(feed_ids) // 2, 1)]
        asked = queries(stories, args.queries)
        latencies, found = await search_latency(index, asked, channel_feeds)
    digests = args.channels
    per = min(args.per_channel, len(ids))
    print(f"corpus: {len(feeds)} feeds, {entries} entries, {len(ids)} stories stored")
    print(f"digests: {digests} channels x {per} pending stories, cap 10, {messages} messages")
    print(
        f"  read pending stories from Redis (baseline): {read:6.2f} s "
        f"({read / digests * 1000:.2f} ms per channel)"
    )
    print(
        f"  build + render (Slack and Discord):         {built:6.2f} s "
        f"({built / digests * 1000:.2f} ms per channel, {built / max(read, 1e-9):.2f}x the read)"
    )
    print(
        f"  whole path (read + build + render):         {whole:6.2f} s "
        f"({whole / digests * 1000:.2f} ms per channel)"
    )
    print(
        f"search: {args.search_stories} stories over 30 days indexed in {indexing:.1f} s; "
        f"{len(asked)} queries over {len(channel_feeds)} of {len(feed_ids)} feeds, "
        f"{found} results"
    )
    print(
        f"  latency median {statistics.median(latencies):.1f} ms, "
        f"p99 {percentile(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
