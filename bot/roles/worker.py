"""Pipeline workers: consume the entries stream through a consumer group.

Each worker reads its own pending entries first (left over from a crash of this consumer),
then new ones; every so often it takes over entries that a dead consumer left pending for
longer than `claim_idle` (XAUTOCLAIM). An entry is acknowledged and deleted only after the
pipeline finished it, so a crash anywhere re-delivers it, and the pipeline's steps are
idempotent (see `handlers.dedup` and `bot.store.stories`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.typing import StreamIdT

from bot.metrics import Metrics
from bot.roles.pipeline import Pipeline, PipelineOutcome
from bot.stopping import sleep_unless_stopped
from bot.store import streams
from bot.store.keys import PIPELINE_GROUP, Keys
from bot.store.seen_entries import SeenEntries
from handlers.article import Article
from handlers.offload import off_loop

log = logging.getLogger(__name__)

Message = streams.Message
# A consumer idle for this many claim periods, with nothing pending, is gone for good.
CONSUMER_GONE_AFTER = 10


async def ensure_group(client: Redis, keys: Keys) -> None:
    """Create the entries stream's consumer group unless it exists."""
    await streams.ensure_group(client, keys.entries, PIPELINE_GROUP)


def _decode(messages: list[Message]) -> list[Article]:
    articles: list[Article] = []
    for message_id, fields in messages:
        try:
            articles.append(Article.from_dict(json.loads(fields["a"])))
        except (KeyError, TypeError, ValueError) as exc:
            log.error(
                "dropping an unreadable stream entry",
                extra={"message_id": message_id, "error": repr(exc)},
            )
    return articles


class PipelineWorker:
    """One consumer of the entries stream."""

    def __init__(
        self,
        *,
        client: Redis,
        blocking: Redis,
        keys: Keys,
        pipeline: Pipeline,
        metrics: Metrics,
        backlog_pipeline: Pipeline | None = None,
        consumer: str | None = None,
        batch: int = 100,
        block_ms: int = 1000,
        claim_idle: float = 60.0,
    ) -> None:
        self._client = client
        self._blocking = blocking
        self._keys = keys
        self._seen = SeenEntries(client, keys)
        self._pipeline = pipeline
        self._backlog_pipeline = backlog_pipeline
        self._metrics = metrics
        self.consumer = consumer or streams.consumer_name()
        self._batch = batch
        self._block_ms = block_ms
        self._claim_idle = claim_idle

    async def _read(self, start: str, *, block: bool) -> list[Message]:
        return await streams.read_group(
            self._blocking,
            self._keys.entries,
            PIPELINE_GROUP,
            self.consumer,
            start,
            count=self._batch,
            block=self._block_ms if block else None,
        )

    async def _reclaim(self) -> list[Message]:
        """Entries a dead consumer left pending; then that consumer, now empty, is removed."""
        claimed = await streams.claim_idle(
            self._client,
            self._keys.entries,
            PIPELINE_GROUP,
            self.consumer,
            idle=self._claim_idle,
            count=self._batch,
            rounds=1,
        )
        await streams.remove_idle_consumers(
            self._client,
            self._keys.entries,
            PIPELINE_GROUP,
            keep=self.consumer,
            idle=self._claim_idle * CONSUMER_GONE_AFTER,
        )
        return claimed

    async def _process(self, articles: list[Article]) -> PipelineOutcome:
        """A new feed's older entries take the store-only path, when there is one."""
        if self._backlog_pipeline is None:
            return await self._pipeline.process(articles)
        live = await self._pipeline.process([a for a in articles if not a.backlog])
        stored = await self._backlog_pipeline.process([a for a in articles if a.backlog])
        return PipelineOutcome(live.articles + stored.articles, live.failures + stored.failures)

    async def handle(self, messages: list[Message]) -> int:
        """Run one batch through the pipeline, then acknowledge and delete it."""
        if not messages:
            return 0
        articles = await off_loop(_decode, messages)  # large texts: off the loop
        ids = [message_id for message_id, _ in messages]
        heartbeat = asyncio.create_task(self._keep_claimed(ids))
        try:
            outcome = await self._process(articles)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError, RedisError):
                await heartbeat
        # Through the pipeline (stored, folded, or a repeat): the poller need not queue
        # them again while the feed has them unchanged. A failed one is queued again.
        failed = {(f.feed_url, f.entry_key) for f in outcome.failures}
        await self._seen.remember([a for a in articles if (a.feed_url, a.entry_key) not in failed])
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.xack(self._keys.entries, PIPELINE_GROUP, *ids)
            pipe.xdel(self._keys.entries, *ids)
            await pipe.execute()
        self._metrics.entries_processed.inc(len(articles) - len(outcome.failures))
        self._metrics.entries_failed.inc(len(outcome.failures))
        return len(messages)

    async def _keep_claimed(self, ids: list[str]) -> None:
        """While a batch is processed (a slow host's pages can take minutes), claim it again
        every third of `claim_idle`, so no other worker takes it over and does it twice."""
        claimed: list[StreamIdT] = list(ids)
        while True:
            await asyncio.sleep(self._claim_idle / 3)
            await self._client.xclaim(
                self._keys.entries,
                PIPELINE_GROUP,
                self.consumer,
                min_idle_time=0,
                message_ids=claimed,
                justid=True,
            )

    async def drain(self) -> int:
        """Process everything available now without blocking; return how many entries."""
        total = await self.handle(await self._read("0", block=False))
        while batch := await self._read(">", block=False):
            total += await self.handle(batch)
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; Redis outages are logged and retried, never fatal."""
        pause = 0.5
        last_reclaim = 0.0
        backlog = True  # first, our own pending entries from before a crash
        while not stop.is_set():
            try:
                await ensure_group(self._client, self._keys)
                if backlog:
                    pending = await self._read("0", block=False)
                    backlog = bool(pending)
                    await self.handle(pending)
                    continue
                if time.monotonic() - last_reclaim > self._claim_idle / 2:
                    last_reclaim = time.monotonic()
                    await self.handle(await self._reclaim())
                await self.handle(await self._read(">", block=True))
                pause = 0.5
            except RedisError as exc:
                log.warning(
                    "pipeline worker cannot reach Redis; retrying",
                    extra={"error": str(exc), "consumer": self.consumer},
                )
                backlog = True
                await sleep_unless_stopped(stop, pause)
                pause = min(pause * 2, 30.0)
