"""What the deliverer tests of every platform share: stories in Redis, deliveries queued
on the platform's outbox, and an outbox consumer that drains them through a deliverer."""

from __future__ import annotations

from bot.roles.outbox import Deliverer, OutboxConsumer
from bot.roles.pipeline import build_pipeline
from bot.store.connection import RedisHandle
from bot.store.holds import HoldStore
from bot.store.pacing import ChannelPacer
from bot.store.subscriptions import SubscriptionStore
from handlers.channels import ChannelRef
from tests.articles import article


def consumer(handle: RedisHandle, deliverer: Deliverer, pace: float = 0.0) -> OutboxConsumer:
    return OutboxConsumer(
        client=handle.client,
        blocking=handle.blocking,
        keys=handle.keys,
        deliverer=deliverer,
        consumer="test",
        ttl=3600,
        block_ms=10,
        pacer=ChannelPacer(handle.client, handle.keys, pace),
    )


async def stories(handle: RedisHandle, titles: list[str]) -> list[str]:
    """Stories with these titles, stored by the real pipeline; their ids."""
    pipeline = build_pipeline(handle.client, handle.keys, ttl=3600)
    stored = (
        await pipeline.process(
            [
                article(entry_key=f"e{n}", url=f"https://n.example/{n}", title=t)
                for n, t in enumerate(titles)
            ]
        )
    ).articles
    return [a.story_id for a in stored]


async def follow(handle: RedisHandle, channel: str, *, public: bool = True) -> None:
    """`channel` follows the feed `stories` stores into, so its posts may show them (and
    alerts made in its workspace may too, when it is public)."""
    store = SubscriptionStore(handle.client, handle.keys)
    ref = ChannelRef.parse(channel)
    await store.subscribe(ref, "f1", now=0)
    await store.set_visibility(ref, public=public)


async def queue(handle: RedisHandle, channel: str, delivery: str, **fields: str) -> None:
    """A delivery on the outbox of the channel's platform, as the roles queue them; a
    channel that gets stories follows their feed, as routing would have it."""
    platform = channel.split(":", 1)[0]
    if fields.get("kind") in {"story", "digest"}:
        await follow(handle, channel)
    await handle.client.xadd(
        handle.keys.outbox(platform), {"delivery": delivery, "channel": channel, **fields}
    )


async def hold(
    handle: RedisHandle,
    channel: str,
    *,
    reason: str = "not_in_channel",
    refusal: str = "channel",
    since: float = 1.0,
) -> None:
    """Hold a channel as the outbox does at its first refused delivery (one held
    notice), with no probe due soon."""
    await HoldStore(handle.client, handle.keys, ttl=86400).start(
        channel,
        {"delivery": "held-0", "channel": channel, "kind": "notice", "text": "held"},
        reason=reason,
        refusal=refusal,
        now=since,
        probe_at=since + 10**9,
    )
