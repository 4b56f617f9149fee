"""Runs articles through the ordered handler steps with per-entry failure isolation.

The order is normalize -> dedup -> enrich -> summarize -> fold -> store -> route. A step
that raises on a batch is retried one article at a time, so one bad entry fails alone; the
failure is logged with feed, entry and step, and recorded in the capped ``failures``
stream. Redis and network errors are not an entry's fault: they propagate, so the batch
stays unacknowledged in the entries stream and is processed again later.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.roles.alerting import AlertStep
from bot.roles.breaking import BreakingStep
from bot.roles.routing import INSTANT_BURST, Router, RouteStep
from bot.store.fold_index import RedisStoryIndex
from bot.store.frequencies import RedisFrequencies
from bot.store.keys import Keys
from bot.store.search_index import SearchIndex
from bot.store.stories import RedisDedupIndex, StoreStep
from bot.store.subscriptions import SubscriptionStore
from handlers.article import Article
from handlers.dedup import DedupStep
from handlers.enrich import EnrichStep, PageSource
from handlers.first_fetch import lead_summary
from handlers.folding import FoldStep
from handlers.normalize import normalize_article
from handlers.steps import PerArticleStep, Step
from handlers.story_match import CROSS_OUTLET_SCORE
from handlers.summarize import DEFAULT_BUDGET, Abstractive, Budget, SummarizeStep
from handlers.tfidf import DocumentFrequencies

log = logging.getLogger(__name__)

_INFRASTRUCTURE = (RedisError, OSError)


@dataclass(frozen=True)
class StepFailure:
    """One article that one step could not handle."""

    step: str
    feed_url: str
    entry_key: str
    error: str


@dataclass
class PipelineOutcome:
    """What came out of one batch: the stored articles and the per-entry failures."""

    articles: list[Article] = field(default_factory=list)
    failures: list[StepFailure] = field(default_factory=list)


FailureSink = Callable[[Sequence[StepFailure]], Awaitable[None]]


class Pipeline:
    """Ordered steps plus the isolation policy above; `timings` adds up seconds per step."""

    def __init__(self, steps: Sequence[Step], *, failure_sink: FailureSink | None = None) -> None:
        self.steps = list(steps)
        self._failure_sink = failure_sink
        self.timings: defaultdict[str, float] = defaultdict(float)

    async def process(self, batch: Sequence[Article]) -> PipelineOutcome:
        outcome = PipelineOutcome()
        current = list(batch)
        for step in self.steps:
            if not current:
                break
            started = time.perf_counter()
            try:
                current = await step.run(current)
            except _INFRASTRUCTURE:
                raise
            except Exception:  # noqa: BLE001 - isolated below, one article at a time
                current = await self._one_by_one(step, current, outcome.failures)
            self.timings[step.name] += time.perf_counter() - started
        outcome.articles = current
        if outcome.failures and self._failure_sink is not None:
            await self._failure_sink(outcome.failures)
        return outcome

    async def _one_by_one(
        self, step: Step, articles: list[Article], failures: list[StepFailure]
    ) -> list[Article]:
        survivors: list[Article] = []
        for article in articles:
            try:
                survivors.extend(await step.run([article]))
            except _INFRASTRUCTURE:
                raise
            except Exception as exc:  # noqa: BLE001 - the boundary for one entry in one step
                failure = StepFailure(step.name, article.feed_url, article.entry_key, repr(exc))
                failures.append(failure)
                log.warning(
                    "pipeline step failed for an entry",
                    extra={
                        "feed_url": article.feed_url,
                        "entry": article.entry_key,
                        "step": step.name,
                        "error": repr(exc),
                        "outcome": "dropped" if step.required else "continued",
                    },
                )
                if not step.required:
                    survivors.append(article)
        return survivors


def _failure_sink(client: Redis, keys: Keys) -> FailureSink:
    """Records each per-entry failure in the capped ``failures`` stream."""

    async def sink(failures: Sequence[StepFailure]) -> None:
        async with client.pipeline(transaction=False) as pipe:
            for f in failures:
                pipe.xadd(
                    keys.failures,
                    {
                        "step": f.step,
                        "feed": f.feed_url,
                        "entry": f.entry_key,
                        "error": f.error[:500],
                    },
                    maxlen=1000,
                    approximate=True,
                )
            await pipe.execute()

    return sink


def build_pipeline(
    client: Redis,
    keys: Keys,
    *,
    ttl: int,
    clock: Callable[[], float] = time.time,
    pages: PageSource | None = None,
    abstractive: Abstractive | None = None,
    budget: Budget = DEFAULT_BUDGET,
    record_failures: bool = True,
    frequencies: DocumentFrequencies | None = None,
    fold_threshold: float = CROSS_OUTLET_SCORE,
    instant_burst: int = INSTANT_BURST,
    visibility: bool = True,
) -> Pipeline:
    """The standard ingest pipeline on one Redis; without `pages`, thin feeds stay thin.
    Document frequencies for folding are learnt in Redis unless `frequencies` is given
    (a digest counts its whole run first). `visibility` False is the benchmarks' baseline:
    copies keep nothing of their own and alerts see every feed (`handlers.visibility`)."""

    dedup_index = RedisDedupIndex(client, keys, ttl=ttl)
    steps: list[Step] = [
        PerArticleStep("normalize", normalize_article),
        DedupStep(dedup_index),
        *([EnrichStep(pages, dedup_index)] if pages is not None else []),
        SummarizeStep(budget, abstractive),
        FoldStep(
            RedisStoryIndex(client, keys, clock=clock),
            dedup_index,
            frequencies or RedisFrequencies(client, keys, clock=clock),
            threshold=fold_threshold,
        ),
        _store_step(client, keys, dedup_index, ttl=ttl, clock=clock, per_copy=visibility),
        RouteStep(
            Router(client, keys, ttl=ttl, clock=clock, burst=instant_burst),
            SubscriptionStore(client, keys),
        ),
        BreakingStep(client, keys, clock=clock),
        AlertStep(client, keys, ttl=ttl, clock=clock, visibility=visibility),
    ]
    return Pipeline(steps, failure_sink=_failure_sink(client, keys) if record_failures else None)


def build_backlog_pipeline(
    client: Redis, keys: Keys, *, ttl: int, clock: Callable[[], float] = time.time
) -> Pipeline:
    """The store-only path for a new feed's older entries (`Article.backlog`): they are
    kept searchable, never delivered or alerted, so they are normalised, deduplicated,
    given their lead as summary, stored and indexed, and nothing else: no page read, no
    scored summary, no cross-outlet fold, no routing. Thousands of feeds imported at once
    bring their whole history through here."""
    dedup_index = RedisDedupIndex(client, keys, ttl=ttl)
    steps: list[Step] = [
        PerArticleStep("normalize", normalize_article),
        DedupStep(dedup_index),
        PerArticleStep("lead", lead_summary),
        _store_step(client, keys, dedup_index, ttl=ttl, clock=clock, per_copy=True),
    ]
    return Pipeline(steps, failure_sink=_failure_sink(client, keys))


def _store_step(
    client: Redis,
    keys: Keys,
    dedup: RedisDedupIndex,
    *,
    ttl: int,
    clock: Callable[[], float],
    per_copy: bool,
) -> StoreStep:
    return StoreStep(
        client,
        keys,
        ttl=ttl,
        clock=clock,
        search=SearchIndex(client, keys, ttl=ttl, clock=clock).add_articles,
        dedup=dedup,
        per_copy=per_copy,
    )
