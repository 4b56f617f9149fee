"""Routing stored stories to the channels that subscribe their feeds.

After the store step, each new story (not an edit, not a new feed's backlog) goes to every
channel subscribed to its feed whose filter it matches: into the channel's pending digest
items, or, for an instant subscription, into the channel's deliveries with a delivery id of
channel plus story. ``{c:<channel>}:routed`` records it in the same script, so a story
reaches a channel once, however many copies of it arrive through however many feeds and
however many workers route them at once, and a retried batch routes nothing twice (see
`Router.route`). The deliveries are then forwarded onto the platform's outbox stream
(`bot.store.forwarding`). Pending digest items older than the retention are trimmed (an
old story routed now counts as half the retention old, so it reaches the next digest).

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
from redis.exceptions import RedisError

from bot.settings import Settings
from bot.store.batch import Call, lua, run_batch
from bot.store.forwarding import Forwarder, encode
from bot.store.keys import Keys
from bot.store.stories import load_stories
from bot.store.subscriptions import SubscriptionStore
from handlers.article import Article, short_hash
from handlers.channels import Subscription, filter_fields
from handlers.outbox_message import OutboxMessage
from handlers.query import matches, parse_query
from handlers.story import Story, copy_order

INSTANT_BURST = 5  # instant stories a channel gets a minute before they come as one message
BURST_WINDOW = 60.0
# Stories a channel's next digest can hold at most (it shows 10 and "…and N more"); with
# `schedule off` and nobody asking for a digest, older ones go first.
PENDING_MAX = 5000
ROUTE_ATTEMPTS = 5
# KEYS: the channel's routed zset, pending zset and deliveries list. ARGV: now, the
# retention horizon, ttl, the pending cap, and the plan (`Router._plan`). Claims and queues
# every story of the plan, or nothing: returns the stories another worker claimed first.
_ROUTE = lua(
    """
local plan = cjson.decode(ARGV[5])
local taken = {}
for _, id in ipairs(plan.claim) do
  if redis.call('ZSCORE', KEYS[1], id) then table.insert(taken, id) end
end
if #taken > 0 then return taken end
local now, horizon, ttl = ARGV[1], ARGV[2], ARGV[3]
for _, id in ipairs(plan.claim) do redis.call('ZADD', KEYS[1], now, id) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', horizon)
redis.call('EXPIRE', KEYS[1], ttl)
if #plan.pending > 0 then
  for _, item in ipairs(plan.pending) do redis.call('ZADD', KEYS[2], item[2], item[1]) end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', horizon)
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -tonumber(ARGV[4]) - 1)
  redis.call('EXPIRE', KEYS[2], ttl)
end
for _, message in ipairs(plan.out) do redis.call('RPUSH', KEYS[3], message) end
return {}
"""
)


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
    """Whether the subscription takes the story: not paused, and its filter passes it."""
    if sub.paused:
        return False
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
        self._route_script = client.register_script(_ROUTE)
        self._forwarder = Forwarder(client, keys)

    async def route(self, pairs: Sequence[tuple[Subscription, Routable]]) -> int:
        """Route each (subscription, story) pair once; return how many were new.

        Each channel's part is one script (`_ROUTE`): it claims the stories
        (``{c:<channel>}:routed``) and queues them (pending, or the channel's deliveries)
        together, or, when another worker claimed one of them meanwhile, does nothing and
        says which; the channel's part is then planned again without them. So no crash and
        no race routes a story to a channel twice, under one delivery id or two (a burst
        and a single post; an instant and a digest subscription in one channel)."""
        if not pairs:
            return 0
        now = self._clock()
        async with self._client.pipeline(transaction=False) as pipe:
            for sub, story in pairs:
                pipe.zscore(self._keys.channel_routed(str(sub.channel)), story.story_id)
            scores = await pipe.execute()
        fresh: dict[str, dict[str, tuple[Subscription, Routable]]] = {}
        for (sub, story), score in zip(pairs, scores, strict=True):
            if score is None:
                fresh.setdefault(str(sub.channel), {}).setdefault(story.story_id, (sub, story))
        routed = 0
        for _attempt in range(ROUTE_ATTEMPTS):
            if not fresh:
                break
            recent = await self._recent(list(fresh), now)
            channels = list(fresh)
            calls: list[Call] = [
                (
                    self._route_script,
                    [
                        self._keys.channel_routed(channel),
                        self._keys.channel_pending(channel),
                        self._keys.channel_out(channel),
                    ],
                    [
                        now,
                        now - self._ttl,
                        self._ttl,
                        PENDING_MAX,
                        self._plan(channel, list(fresh[channel].values()), recent[channel], now),
                    ],
                )
                for channel in channels
            ]
            taken = await run_batch(self._client, calls, durable=True)
            for channel, claimed_elsewhere in zip(channels, taken, strict=True):
                if not claimed_elsewhere:
                    routed += len(fresh.pop(channel))
                    continue
                for story_id in claimed_elsewhere:
                    fresh[channel].pop(str(story_id), None)
                if not fresh[channel]:
                    del fresh[channel]
        if fresh:
            raise RedisError(f"stories kept being routed elsewhere meanwhile: {sorted(fresh)}")
        await self._forwarder.forward({str(sub.channel) for sub, _ in pairs})
        return routed

    def _plan(
        self, channel: str, pairs: list[tuple[Subscription, Routable]], recent: int, now: float
    ) -> str:
        """What one channel's script claims and queues, as JSON: instant stories oldest
        first (one burst message when the flood guard says so), digest stories pending.

        A pending story is scored by its date, but never older than half the retention:
        pending is trimmed at the retention, and a quiet blog's newest post, 40 days old,
        must still reach the next digest that its subscribe reply promised."""
        pairs = sorted(pairs, key=lambda pair: pair[1].when)
        instant = [story for sub, story in pairs if sub.mode == "instant"]
        # A story with an instant and a digest subscription here goes out instantly.
        instant_ids = {story.story_id for story in instant}
        floor = now - self._ttl / 2
        pending = [
            [story.story_id, max(story.when, floor)]
            for sub, story in pairs
            if sub.mode != "instant" and story.story_id not in instant_ids
        ]
        out: list[str] = []
        if len(instant) > 1 and recent + len(instant) > self._burst:
            out.append(encode(_burst_message(channel, instant).fields()))
        else:
            out += [encode(OutboxMessage.story(channel, s.story_id).fields()) for s in instant]
        claim = list(dict.fromkeys(story.story_id for _sub, story in pairs))
        return json.dumps({"claim": claim, "pending": pending, "out": out})

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


def _burst_message(channel: str, stories: list[Routable]) -> OutboxMessage:
    """One digest-style outbox message for a burst of instant stories, newest first."""
    sources = {story.fields.get("source", "") for story in stories}
    source = sources.pop() if len(sources) == 1 else ""
    heading = f"{len(stories)} new stories" + (f" from {source}" if source else "")
    ids = [story.story_id for story in reversed(stories)]
    delivery = f"{channel}|burst|{short_hash(','.join(sorted(ids)))}"
    return OutboxMessage.digest(delivery, channel, ids, heading=heading)


def router_for(
    settings: Settings, client: Redis, keys: Keys, *, clock: Callable[[], float] = time.time
) -> Router:
    """The router every part of newsbot routes with: one configuration (the retention,
    `NEWSBOT_INSTANT_BURST`) for the pipeline's stories and the seeds of new subscriptions."""
    return Router(
        client, keys, ttl=settings.retention_seconds, clock=clock, burst=settings.instant_burst
    )


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
