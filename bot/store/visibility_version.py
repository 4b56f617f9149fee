"""The version of the visibility sets: bumped by every write that changes them."""

from __future__ import annotations

from redis.asyncio.client import Pipeline as RedisPipeline

from bot.store.keys import Keys


def bump_visibility(pipe: RedisPipeline, keys: Keys) -> None:
    """Queue the bump that every change of who follows which feed, of which channels are
    public, or of which feeds are watched ends with (`bot.store.audience`)."""
    pipe.incr(keys.visibility_version)
