"""Digest and search benchmark: building and rendering digests for many channels, and search
latency over a full retention window of stories.

Prints, from one run on the real-feed corpus (stored through the whole pipeline first):

- reading 1,000 channels' pending stories (50 each, from the 3 feeds each follows; 20
  workspaces, a fifth of the channels public) from Redis;
- the scheduler's whole path (`Scheduler.preview`: pending stories, subscriptions,
  audience, projection, rank and cap; then Slack Block Kit and Discord embeds), next to
  the same path with the visibility rule switched off (`Scheduler(visibility=False)`), the
  baseline of what the rule costs (issue #20: at most 10%);
- `/news search` latency, median and p99, over 100,000 stored stories spread over 30 days
  (the corpus's stories copied under new ids and days) in 50 channels, from a private
  channel, for a mix of query shapes; with the rule and without it;
- the event-loop (CPU) time of searches for words only other channels' feeds have, which
  the rule answers with nothing before loading a story (should be about 0).

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
from _figures import percentile
from ingest import RETENTION, whole_pipeline

from bot.render.discord_embeds import render_discord
from bot.render.slack_blocks import render_slack
from bot.roles.scheduler import Scheduler
from bot.settings import load_settings
from bot.store.audience import AudienceStore
from bot.store.connection import RedisHandle, open_redis
from bot.store.search_index import SearchEntry, SearchIndex, index_words, indexable
from bot.store.stories import load_stories
from bot.store.subscriptions import SubscriptionStore
from handlers.channels import ChannelRef
from handlers.query import words_of
from handlers.story import Story
from handlers.visibility import Audience

FEEDS_PER_CHANNEL = 3
WORKSPACES = 20


def channel_ref(number: int, workspace: str = "") -> ChannelRef:
    """Digest channel `number` (in one of `WORKSPACES`), or search channel `number` of
    `workspace`."""
    return ChannelRef("slack", workspace or f"T{number % WORKSPACES}", f"C{number}")


async def follow(
    handle: RedisHandle,
    feed_ids: list[str],
    channels: int,
    per: int = FEEDS_PER_CHANNEL,
    workspace: str = "",
) -> dict[int, list[str]]:
    """Subscribe each channel to `per` feeds (a fifth of the channels public); its feeds."""
    subscriptions = SubscriptionStore(handle.client, handle.keys)
    followed = {}
    for number in range(channels):
        where = channel_ref(number, workspace)
        feeds = [feed_ids[(number * per + n) % len(feed_ids)] for n in range(per)]
        for feed_id in feeds:
            await subscriptions.subscribe(where, feed_id, now=0, added_by="bench")
        await subscriptions.set_visibility(where, public=number % 5 == 0)
        followed[number] = feeds
    return followed


async def pending_sets(handle: RedisHandle, followed: dict[int, list[str]], per: int) -> None:
    """Give each channel up to `per` pending stories, the newest of the feeds it follows."""
    client, keys = handle.client, handle.keys
    for number, feeds in followed.items():
        async with client.pipeline(transaction=False) as pipe:
            for feed_id in feeds:
                pipe.zrevrange(keys.feed_stories(feed_id), 0, per - 1)
            rows = await pipe.execute()
        chosen = list(dict.fromkeys(str(i) for row in rows for i in row))[:per]
        if chosen:
            pending = {story_id: float(n) for n, story_id in enumerate(chosen)}
            await client.zadd(keys.channel_pending(str(channel_ref(number))), pending)


async def read_channel(handle: RedisHandle, number: int) -> list[Story]:
    key = handle.keys.channel_pending(str(channel_ref(number)))
    ids = [str(i) for i in await handle.client.zrange(key, 0, -1)]
    return await load_stories(handle.client, handle.keys, ids)


async def digest_timings(
    handle: RedisHandle, channels: int, now: datetime, repeat: int
) -> tuple[float, float, float, int]:
    """(read s, whole path without the rule s, whole path s, messages), best of `repeat`.
    The whole path is the scheduler's (`Scheduler.preview`: pending stories, the
    channel's subscriptions and audience, projection, rank, cap) and both renderers."""
    started = time.perf_counter()
    for number in range(channels):
        await read_channel(handle, number)
    read = time.perf_counter() - started
    best: dict[bool, float] = {}
    messages = 0
    for _ in range(repeat):
        for rule in (False, True):
            scheduler = Scheduler(handle.client, handle.keys, clock=now.timestamp, visibility=rule)
            started = time.perf_counter()
            messages = 0
            for number in range(channels):
                digest = await scheduler.preview(channel_ref(number))
                messages += len(render_slack(digest)) + len(render_discord(digest))
            seconds = time.perf_counter() - started
            best[rule] = min(best.get(rule, seconds), seconds)
    return read, best[False], best[True], messages


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
        primary = story.primary()  # the copy indexed: as it was stored
        batch.append(
            SearchEntry(new_id, when, primary.title, story.summary, primary.source, primary.feed_id)
        )
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


def foreign_words(stories: list[Story], visible: frozenset[str], count: int) -> list[str]:
    """The words of the most stories that no story of a visible feed has."""
    feeds_of: dict[str, set[str]] = {}
    stories_of: dict[str, int] = {}
    for story in stories:
        primary = story.primary()
        for word in index_words(primary.title, story.summary, primary.source):
            feeds_of.setdefault(word, set()).add(primary.feed_id)
            stories_of[word] = stories_of.get(word, 0) + 1
    foreign = [w for w, feeds in feeds_of.items() if not feeds & visible and len(w) > 3]
    return sorted(foreign, key=lambda w: -stories_of[w])[:count]


async def search_latency(
    index: SearchIndex, asked: list[str], audience: Audience
) -> tuple[list[float], list[float], int]:
    """Wall-clock and event-loop (CPU) milliseconds of each query, and results found."""
    latencies, cpu, found = [], [], 0
    for query in asked:
        started, used = time.perf_counter(), time.process_time()
        found += len((await index.search(query, audience=audience, limit=10)).items)
        latencies.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
    return latencies, cpu, found


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--per-channel", type=int, default=50)
    parser.add_argument("--search-stories", type=int, default=100_000)
    parser.add_argument("--search-channels", type=int, default=50)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3, help="digest runs; best is kept")
    parser.add_argument("--smoke", action="store_true", help="tiny input (for CI)")
    args = parser.parse_args()
    feeds = load_feeds(FEEDS, 5 if args.smoke else None)
    if args.smoke:
        args.channels, args.search_stories, args.queries, args.repeat = 20, 2000, 30, 1
    now = fetched_at(feeds)
    async with open_redis(load_settings({}), ephemeral=True) as handle:
        entries, _seconds, _timings = await whole_pipeline(handle, feeds, now)
        ids = [str(i) for i in await handle.client.zrevrange(handle.keys.stories, 0, -1)]
        stories = await load_stories(handle.client, handle.keys, ids)
        feed_ids = sorted({c.feed_id for s in stories for c in s.copies})
        followed = await follow(handle, feed_ids, args.channels)
        await pending_sets(handle, followed, args.per_channel)
        read, baseline, whole, messages = await digest_timings(
            handle, args.channels, now, args.repeat
        )
        # Search: every feed followed in 50 channels of one more workspace, from a private one.
        per = max(len(feed_ids) // args.search_channels, 1)
        await follow(handle, feed_ids, args.search_channels, per, workspace="TS")
        index, indexing = await fill_search(handle, stories, args.search_stories, now)
        audiences = AudienceStore(handle.client, handle.keys)
        audience = await audiences.for_channel(channel_ref(1, "TS"))
        asked = queries(stories, args.queries)
        latencies, _cpu, found = await search_latency(index, asked, audience)
        everything, _cpu, found_all = await search_latency(index, asked, Audience(everything=True))
        foreign = foreign_words(stories, audience.visible, 30)
        _wall, foreign_cpu, foreign_found = await search_latency(index, foreign, audience)
    digests = args.channels
    print(f"corpus: {len(feeds)} feeds, {entries} entries, {len(ids)} stories stored")
    print(
        f"digests: {digests} channels in {WORKSPACES} workspaces, up to {args.per_channel} "
        f"pending stories of their {FEEDS_PER_CHANNEL} feeds, cap 10, {messages} messages"
    )
    print(
        f"  read pending stories from Redis:            {read:6.2f} s "
        f"({read / digests * 1000:.2f} ms per channel)"
    )
    print(
        f"  whole path, no visibility rule (baseline):  {baseline:6.2f} s "
        f"({baseline / digests * 1000:.2f} ms per channel, best of {args.repeat})"
    )
    print(
        f"  whole path with the rule:                   {whole:6.2f} s "
        f"({whole / digests * 1000:.2f} ms per channel); the rule costs "
        f"{whole / baseline - 1:+.1%} (target <= +10%)"
    )
    print(
        f"search: {args.search_stories} stories over 30 days indexed in {indexing:.1f} s, "
        f"{args.search_channels} channels; {len(asked)} queries from a private channel "
        f"seeing {len(audience.visible)} of {len(feed_ids)} feeds"
    )
    print(
        f"  with the rule: median {statistics.median(latencies):.1f} ms, "
        f"p99 {percentile(latencies, 0.99):.1f} ms, {found} results"
    )
    print(
        f"  every feed (baseline): median {statistics.median(everything):.1f} ms, "
        f"p99 {percentile(everything, 0.99):.1f} ms, {found_all} results"
    )
    if foreign_cpu:
        print(
            f"  {len(foreign)} searches for words only unseen feeds have: {foreign_found} "
            f"results, event-loop time median {statistics.median(foreign_cpu):.2f} ms, "
            f"p99 {percentile(foreign_cpu, 0.99):.2f} ms (should be about 0)"
        )


if __name__ == "__main__":
    asyncio.run(main())
