"""The pipeline's breaking step: post a digest story at once when it breaks in a channel.

After routing, each story a batch touched (a new story, or a copy folded into one) is
checked in the channels with breaking news on (``breaking:channels``, read every few
seconds) whose pending digest holds it: a story of their digest subscriptions that they
have not had yet. When the copies the channel may see come from enough outlets soon
enough (`handlers.breaking`), and no manager muted it there, one script takes it out of
the pending digest and queues it as "Breaking · N outlets". Taking it out is the claim:
the story is posted once per channel, by whichever worker gets there first, and is left
out of the next digest. A story the channel already had (instant, or an earlier digest) is
not pending, so it is never posted again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from redis.asyncio import Redis

from bot.store.audience import AudienceStore
from bot.store.batch import lua
from bot.store.forwarding import Forwarder, encode
from bot.store.keys import Keys
from bot.store.stories import load_stories
from bot.store.story_marks import StoryMarks
from handlers.article import Article
from handlers.breaking import SETTING, BreakingRule, breaks
from handlers.channels import ChannelRef
from handlers.outbox_message import OutboxMessage
from handlers.visibility import visible_copies

log = logging.getLogger(__name__)

CHANNELS_FRESH = 5.0  # seconds the set of breaking channels is reused
# KEYS: the channel's pending zset and deliveries list. ARGV: story, message. 1 if queued.
_BREAK = lua(
    """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[2])
return 1
"""
)


def heading(outlets: int) -> str:
    return f"Breaking · {outlets} outlets"


class BreakingStep:
    """Pipeline step after routing: post the channel's digest stories that break."""

    name = "breaking"
    required = False

    def __init__(
        self, client: Redis, keys: Keys, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._keys = keys
        self._clock = clock
        self._audiences = AudienceStore(client, keys, clock=clock)
        self._marks = StoryMarks(client, keys, clock=clock)
        self._forwarder = Forwarder(client, keys)
        self._break = client.register_script(_BREAK)
        self._channels: list[str] = []
        self._read_at = float("-inf")

    async def _breaking_channels(self) -> list[str]:
        now = time.monotonic()
        if now - self._read_at >= CHANNELS_FRESH:
            members = await self._client.smembers(self._keys.breaking_channels)
            self._channels = sorted(str(c) for c in members)
            self._read_at = now
        return self._channels

    async def run(self, articles: Sequence[Article]) -> list[Article]:
        touched = list(
            dict.fromkeys(a.story_id for a in articles if not a.update and not a.backlog)
        )
        channels = await self._breaking_channels() if touched else []
        if channels:
            await self._check(channels, touched)
        return list(articles)

    async def _check(self, channels: list[str], story_ids: list[str]) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            for channel in channels:
                pipe.zmscore(self._keys.channel_pending(channel), story_ids)
                pipe.hget(self._keys.channel(channel), SETTING)
            replies = await pipe.execute()
        waiting: dict[str, tuple[BreakingRule, list[str]]] = {}
        for n, channel in enumerate(channels):
            scores, setting = replies[2 * n], replies[2 * n + 1]
            rule = BreakingRule.parse(setting)
            pending = [s for s, score in zip(story_ids, scores, strict=True) if score is not None]
            if rule is not None and pending:
                waiting[channel] = (rule, pending)
        if not waiting:
            return
        wanted = sorted({s for _, ids in waiting.values() for s in ids})
        stories = {s.id: s for s in await load_stories(self._client, self._keys, wanted)}
        muted = await self._marks.muted({c: ids for c, (_, ids) in waiting.items()})
        posted: list[str] = []
        for channel, (rule, ids) in waiting.items():
            audience = await self._audiences.for_channel(ChannelRef.parse(channel))
            for story_id in ids:
                story = stories.get(story_id)
                if story is None or (channel, story_id) in muted:
                    continue
                outlets = breaks(visible_copies(story, audience), rule)
                if not outlets:
                    continue
                message = OutboxMessage.breaking(channel, story_id, heading(outlets))
                queued = await self._break(
                    keys=[self._keys.channel_pending(channel), self._keys.channel_out(channel)],
                    args=[story_id, encode(message.fields())],
                )
                if queued:
                    posted.append(channel)
                    log.info(
                        "a story broke",
                        extra={"channel": channel, "story": story_id, "outlets": outlets},
                    )
        await self._forwarder.forward(posted)
