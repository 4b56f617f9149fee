"""Routing stored stories to the channels that subscribe their feeds.

After the store step, each new story (not an edit, not a new feed's backlog) goes to every
channel subscribed to its feed whose filter it matches: into the channel's pending digest
items, or, for an instant subscription, onto the platform's outbox stream with a delivery id
of channel plus story. Then ``chan:{channel}:routed`` records it, so a story reaches a
channel once, however many copies of it arrive through however many feeds, and a retried
batch routes nothing twice; a digest that takes a story records it too (see `Router.route`
and `bot.roles.scheduler`). Pending digest items older than the retention are trimmed.

A new subscription is seeded with the newest `NEWSBOT_FIRST_FETCH_MAX` stories its feed
already has, through the same path.

Flood guard: when a channel's instant stories of one batch, with those it was sent in the
last minute, come to more than `NEWSBOT_INSTANT_BURST`, the batch goes out as one
digest-style message ("7 new stories from BBC World") instead of a message each. Every
story is in it; the renderers split it only where the platform's limits force them. Its
delivery id is made of the channel and the stories, so a retried batch posts it once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from bot.store.keys import Keys
from bot.store.stories import load_stories
from bot.store.subscriptions import SubscriptionStore
from handlers.article import Article, short_hash
from handlers.channels import ChannelRef, Subscription, filter_fields
from handlers.query import matches, parse_query
from handlers.story import Story, copy_order

INSTANT_BURST = 5  # instant stories a channel gets a minute before they come as one message
BURST_WINDOW = 60.0
# Stories a channel's next digest can hold at most (it shows 10 and "…and N more"); with
# `schedule off` and nobody asking for a digest, older ones go first.
PENDING_MAX = 5000


@dataclass(frozen=True)
class Routable:
    """What routing needs of a story: its id, time, feed and the text filters look at."""

    story_id: str
    when: float
    feed_id: str
    fields: dict[str, str]


def _routable(article: Article) -> Routable:
    when = (article.published or article.seen_at).timestamp()
    fields = filter_fields(
        title=article.title,
        source=article.source,
        author=article.author,
        summary=article.summary,
    )
    return Routable(article.story_id, when, article.feed_id, fields)


def stored_routable(story: Story, feed_id: str) -> Routable:
    """A stored story as routing and filters saw it: the copy of `feed_id` (its earliest),
    with the same fields routing read when that copy arrived."""
    own = [c for c in story.copies if c.feed_id == feed_id]
    copy = min(own, key=copy_order) if own else story.primary()
    fields = filter_fields(
        title=copy.title,
        source=copy.source,
        author=copy.author,
        summary=story.summary_of(copy),
    )
    return Routable(story.id, (copy.published or copy.seen).timestamp(), feed_id, fields)


def wants(sub: Subscription, story: Routable) -> bool:
    return not sub.filter or matches(parse_query(sub.filter), story.fields)


class Router:
    """Routes stories into channels' pending digests and the outbox."""

    def __init__(
        self,
        client: Redis,
        keys: Keys,
        *,
        ttl: int,
        clock: Callable[[], float] = time.time,
        burst: int = INSTANT_BURST,
    ) -> None:
        self._client = client
        self._keys = keys
        self._ttl = ttl
        self._clock = clock
        self._burst = burst

    async def route(self, pairs: Sequence[tuple[Subscription, Routable]]) -> int:
        """Route each (subscription, story) pair once; return how many were new.

        A story is queued first and claimed after (``chan:{channel}:routed``), so a crash or
        a Redis error in between leaves it unclaimed and the retry queues it again: the
        pending ZADD is idempotent, and the outbox sends a delivery id once, so a story
        queued twice is posted once. Nothing here spans two keys in one command, so it
        works on Redis Cluster too."""
        if not pairs:
            return 0
        now = self._clock()
        horizon = now - self._ttl
        async with self._client.pipeline(transaction=False) as pipe:
            for sub, story in pairs:
                pipe.zscore(self._keys.channel_routed(str(sub.channel)), story.story_id)
            scores = await pipe.execute()
        fresh: dict[tuple[str, str], tuple[Subscription, Routable]] = {}
        for (sub, story), score in zip(pairs, scores, strict=True):
            if score is None:
                fresh.setdefault((str(sub.channel), story.story_id), (sub, story))
        ordered = sorted(fresh.values(), key=lambda pair: pair[1].when)
        instant: dict[str, list[Routable]] = {}
        for sub, story in ordered:
            if sub.mode == "instant":
                instant.setdefault(str(sub.channel), []).append(story)
        recent = await self._recent(list(instant), now)
        async with self._client.pipeline(transaction=False) as pipe:
            # Oldest first, so instant posts read in order and the newest ends up last.
            for channel, stories in instant.items():
                platform = ChannelRef.parse(channel).platform
                if len(stories) > 1 and recent[channel] + len(stories) > self._burst:
                    pipe.xadd(self._keys.outbox(platform), _burst_message(channel, stories))
                    continue
                for story in stories:
                    pipe.xadd(
                        self._keys.outbox(platform),
                        {
                            "delivery": f"{channel}|story|{story.story_id}",
                            "channel": channel,
                            "kind": "story",
                            "story": story.story_id,
                        },
                    )
            for sub, story in ordered:
                if sub.mode == "instant":
                    continue
                channel = str(sub.channel)
                pipe.zadd(self._keys.channel_pending(channel), {story.story_id: story.when})
                pending = self._keys.channel_pending(channel)
                pipe.zremrangebyscore(pending, "-inf", horizon)
                pipe.zremrangebyrank(pending, 0, -PENDING_MAX - 1)
                pipe.expire(pending, self._ttl)
            await pipe.execute()
        async with self._client.pipeline(transaction=False) as pipe:
            for channel, story_id in fresh:
                # Scored by when it was routed: an old story's claim lasts the retention too.
                pipe.zadd(self._keys.channel_routed(channel), {story_id: now}, nx=True)
            for channel in {str(sub.channel) for sub, _ in pairs}:
                pipe.zremrangebyscore(self._keys.channel_routed(channel), "-inf", horizon)
                pipe.expire(self._keys.channel_routed(channel), self._ttl)
            await pipe.execute()
        return len(fresh)

    async def _recent(self, channels: list[str], now: float) -> dict[str, int]:
        """Stories each channel was sent (claimed) in the last minute."""
        if not channels:
            return {}
        async with self._client.pipeline(transaction=False) as pipe:
            for channel in channels:
                pipe.zcount(self._keys.channel_routed(channel), now - BURST_WINDOW, "+inf")
            counts = await pipe.execute()
        return {c: int(n) for c, n in zip(channels, counts, strict=True)}

    async def seed(self, sub: Subscription, *, newest: int) -> int:
        """Give a new subscription the newest stories its feed already has."""
        if newest <= 0:
            return 0
        ids = await self._client.zrevrange(self._keys.feed_stories(sub.feed_id), 0, newest - 1)
        stories = await load_stories(self._client, self._keys, [str(i) for i in ids])
        pairs = []
        for story in stories:
            routable = stored_routable(story, sub.feed_id)
            if wants(sub, routable):
                pairs.append((sub, routable))
        return await self.route(pairs)


def _burst_message(channel: str, stories: list[Routable]) -> dict[FieldT, EncodableT]:
    """One digest-style outbox message for a burst of instant stories, newest first."""
    sources = {story.fields.get("source", "") for story in stories}
    source = sources.pop() if len(sources) == 1 else ""
    heading = f"{len(stories)} new stories" + (f" from {source}" if source else "")
    ids = [story.story_id for story in reversed(stories)]
    return {
        "delivery": f"{channel}|burst|{short_hash(','.join(sorted(ids)))}",
        "channel": channel,
        "kind": "digest",
        "heading": heading,
        "more": "0",
        "stories": json.dumps(ids),
    }


class RouteStep:
    """Pipeline step after store: route new stories to the channels that want them."""

    name = "route"
    required = False

    def __init__(self, router: Router, subscriptions: SubscriptionStore) -> None:
        self._router = router
        self._subscriptions = subscriptions

    async def run(self, articles: Sequence[Article]) -> list[Article]:
        deliverable = [a for a in articles if not a.update and not a.backlog]
        subs = {
            feed: await self._subscriptions.of_feed(feed)
            for feed in {a.feed_id for a in deliverable}
        }
        # A channel the platform refuses is routed to as any other: its deliveries wait in
        # its hold (`bot.store.holds`) until it works again.
        pairs = []
        for article in deliverable:
            story = _routable(article)
            pairs += [(sub, story) for sub in subs[article.feed_id] if wants(sub, story)]
        await self._router.route(pairs)
        return list(articles)
