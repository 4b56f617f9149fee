"""Pipeline workers on the entries stream: processing, crash recovery, no double work."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from bot.metrics import Metrics
from bot.roles.pipeline import Pipeline, build_pipeline
from bot.roles.worker import PipelineWorker, ensure_group
from bot.store.connection import RedisHandle
from bot.store.keys import PIPELINE_GROUP
from bot.store.stories import load_stories
from handlers.article import Article
from tests.articles import article


def worker(handle: RedisHandle, name: str, claim_idle: float = 60.0) -> PipelineWorker:
    return PipelineWorker(
        client=handle.client,
        blocking=handle.blocking,
        keys=handle.keys,
        pipeline=build_pipeline(handle.client, handle.keys, ttl=3600),
        metrics=Metrics(),
        consumer=name,
        claim_idle=claim_idle,
        block_ms=50,
    )


async def queue(handle: RedisHandle, count: int) -> None:
    await ensure_group(handle.client, handle.keys)
    for n in range(count):
        entry = article(entry_key=f"g{n}", url=f"https://example.com/{n}")
        await handle.client.xadd(handle.keys.entries, {"a": json.dumps(entry.to_dict())})


async def test_worker_processes_and_removes_entries(handle: RedisHandle) -> None:
    await queue(handle, 5)
    assert await worker(handle, "w1").drain() == 5
    assert await handle.client.xlen(handle.keys.entries) == 0
    assert await handle.client.zcard(handle.keys.stories) == 5


async def test_entries_of_a_dead_consumer_are_taken_over(handle: RedisHandle) -> None:
    await queue(handle, 3)
    # A consumer reads the batch and dies before acknowledging it.
    await handle.client.xreadgroup(PIPELINE_GROUP, "dead", {handle.keys.entries: ">"}, count=10)
    survivor = worker(handle, "alive", claim_idle=0.05)
    await asyncio.sleep(0.1)
    stop = asyncio.Event()
    task = asyncio.create_task(survivor.run(stop))
    for _ in range(100):
        if await handle.client.zcard(handle.keys.stories) == 3:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert await handle.client.zcard(handle.keys.stories) == 3
    assert await handle.client.xlen(handle.keys.entries) == 0


async def test_redelivery_after_a_crash_stores_each_story_once(handle: RedisHandle) -> None:
    await queue(handle, 4)
    first = worker(handle, "w1")
    messages = await first._read(">", block=False)
    pipeline = build_pipeline(handle.client, handle.keys, ttl=3600)
    from handlers.article import Article

    await pipeline.process([Article.from_dict(json.loads(f["a"])) for _, f in messages])
    # Crashed before XACK: the same consumer restarts and finds its pending entries.
    assert await worker(handle, "w1").drain() == 4
    assert await handle.client.zcard(handle.keys.stories) == 4
    story_ids = await handle.client.zrange(handle.keys.stories, 0, -1)
    stories = await load_stories(handle.client, handle.keys, story_ids)
    assert [len(s.copies) for s in stories] == [1, 1, 1, 1]


async def test_unreadable_stream_entries_are_dropped_not_stuck(handle: RedisHandle) -> None:
    await ensure_group(handle.client, handle.keys)
    await handle.client.xadd(handle.keys.entries, {"a": "{not json"})
    await handle.client.xadd(handle.keys.entries, {"other": "field"})
    await queue(handle, 1)
    assert await worker(handle, "w1").drain() == 3
    assert await handle.client.xlen(handle.keys.entries) == 0
    assert await handle.client.zcard(handle.keys.stories) == 1


class SlowStep:
    """A step as slow as fetching 100 pages from one slow host."""

    name = "slow"
    required = True

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def run(self, articles: Sequence[Article]) -> list[Article]:
        await asyncio.sleep(self.seconds)
        return list(articles)


async def test_a_long_batch_is_not_taken_over_while_it_is_processed(handle: RedisHandle) -> None:
    await queue(handle, 3)
    slow = PipelineWorker(
        client=handle.client,
        blocking=handle.blocking,
        keys=handle.keys,
        pipeline=Pipeline([SlowStep(1.2)]),
        metrics=Metrics(),
        consumer="slow",
        claim_idle=0.3,
        block_ms=50,
    )
    other = worker(handle, "other", claim_idle=0.3)
    processing = asyncio.create_task(slow.drain())
    taken = []
    for _ in range(10):
        await asyncio.sleep(0.1)
        taken += await other._reclaim()
    assert await processing == 3
    assert taken == [], "another worker took over a batch still being processed"
    assert await handle.client.xlen(handle.keys.entries) == 0


async def test_a_dead_consumer_leaves_the_group_once_its_entries_are_taken(
    handle: RedisHandle,
) -> None:
    await queue(handle, 2)
    await handle.client.xreadgroup(PIPELINE_GROUP, "host-1", {handle.keys.entries: ">"}, count=10)
    survivor = worker(handle, "host-2", claim_idle=0.05)
    await asyncio.sleep(0.6)  # longer than claim_idle x 10: host-1 is gone for good
    assert len(await survivor._reclaim()) == 2
    await asyncio.sleep(0.6)
    await survivor._reclaim()
    names = [
        c["name"] for c in await handle.client.xinfo_consumers(handle.keys.entries, "pipeline")
    ]
    assert names == ["host-2"]
