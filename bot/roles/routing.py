"""Routing stored stories to the channels that subscribe their feeds.

After the store step, each new story (not an edit, not a new feed's backlog) goes to every
channel subscribed to its feed whose filter it matches: into the channel's pending digest
items, or, for an instant subscription, onto the platform's outbox stream with a delivery id
of channel plus story. ``chan:{channel}:routed`` is claimed first (ZADD NX), so a story
reaches a channel once, however many copies of it arrive through however many feeds, and a
retried batch routes nothing twice.

A new subscription is seeded with the newest `NEWSBOT_FIRST_FETCH_MAX` stories its feed
already has, through the same path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from bot.store.keys import Keys
from bot.store.stories import load_stories
from bot.store.subscriptions import SubscriptionStore
from handlers.article import Article
from handlers.channels import Subscription
from handlers.query import matches, parse_query


@dataclass(frozen=True)
class Routable:
    """What routing needs of a story: its id, time, feed and the text filters look at."""

    story_id: str
    when: float
    feed_id: str
    fields: dict[str, str]


def _routable(article: Article) -> Routable:
    when = (article.published or article.seen_at).timestamp()
    fields = {
        "title": article.title,
        "source": article.source,
        "author": article.author,
        "text": f"{article.summary}\n{article.description}",
    }
    return Routable(article.story_id, when, article.feed_id, fields)


def wants(sub: Subscription, story: Routable) -> bool:
    return not sub.filter or matches(parse_query(sub.filter), story.fields)


class Router:
    """Routes stories into channels' pending digests and the outbox."""

    def __init__(
        self, client: Redis, keys: Keys, *, ttl: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._keys = keys
        self._ttl = ttl
        self._clock = clock

    async def route(self, pairs: Sequence[tuple[Subscription, Routable]]) -> int:
        """Route each (subscription, story) pair once; return how many were new."""
        if not pairs:
            return 0
        now = self._clock()
        horizon = now - self._ttl
        async with self._client.pipeline(transaction=False) as pipe:
            for sub, story in pairs:
                # Scored by when it was routed: an old story's claim lasts the retention too.
                pipe.zadd(
                    self._keys.channel_routed(str(sub.channel)), {story.story_id: now}, nx=True
                )
            claimed = await pipe.execute()
        routed = 0
        fresh = [pair for pair, new in zip(pairs, claimed, strict=True) if new]
        async with self._client.pipeline(transaction=False) as pipe:
            # Oldest first, so instant posts read in order and the newest ends up last.
            for sub, story in sorted(fresh, key=lambda pair: pair[1].when):
                channel = str(sub.channel)
                routed += 1
                if sub.mode == "instant":
                    pipe.xadd(
                        self._keys.outbox(sub.channel.platform),
                        {
                            "delivery": f"{channel}|story|{story.story_id}",
                            "channel": channel,
                            "kind": "story",
                            "story": story.story_id,
                        },
                    )
                else:
                    pipe.zadd(self._keys.channel_pending(channel), {story.story_id: story.when})
            for channel in {str(sub.channel) for sub, _ in pairs}:
                pipe.zremrangebyscore(self._keys.channel_routed(channel), "-inf", horizon)
                pipe.expire(self._keys.channel_routed(channel), self._ttl)
            await pipe.execute()
        return routed

    async def seed(self, sub: Subscription, *, newest: int) -> int:
        """Give a new subscription the newest stories its feed already has."""
        if newest <= 0:
            return 0
        ids = await self._client.zrevrange(self._keys.feed_stories(sub.feed_id), 0, newest - 1)
        stories = await load_stories(self._client, self._keys, [str(i) for i in ids])
        pairs = []
        for story in stories:
            primary = story.primary()
            routable = Routable(
                story.id,
                (primary.published or primary.seen).timestamp(),
                sub.feed_id,
                {
                    "title": primary.title,
                    "source": primary.source,
                    "author": "",
                    "text": story.summary,
                },
            )
            if wants(sub, routable):
                pairs.append((sub, routable))
        return await self.route(pairs)


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
        pairs = []
        for article in deliverable:
            story = _routable(article)
            pairs += [(sub, story) for sub in subs[article.feed_id] if wants(sub, story)]
        await self._router.route(pairs)
        return list(articles)
