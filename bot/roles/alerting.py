"""Matching new stories against keyword alerts, in the pipeline; sending batched DMs.

`AlertStep` runs after routing. It keeps an index of every alert by its required words
(`handlers.alerts.AlertIndex`), rebuilt whenever ``alerts:version`` moves, so a new alert
counts from the next batch in every pipeline process. A story is matched against its
title, source, author, summary and full text; only the alerts whose required words the
story has are evaluated in full.

A match counts only within the alert's scope, judged on each copy as it arrives: the
copy's feed must be visible to the alert (`bot.store.audience`: followed by a public
channel of the alert's workspace or guild, in the coverage set, or followed by the
alert's own channel, a private one only while its owner is a member). A channel is public
when its platform said so (``public`` on ``chan:{channel}``, set by the chat adapters);
unknown counts as private. So a story first brought by a feed the alert may not see still
alerts when a copy it may see arrives; one story alerts each alert once, however many
copies (``story:{sid}:alerted``). Edits and a feed's first fetch never alert. A member
whose alerts are paused gets nothing, and nothing is saved up. A channel alert skips a
story a manager muted in its channel.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.stopping import sleep_unless_stopped
from bot.store.alerts import Alert, AlertStore, Match
from bot.store.audience import AudienceStore
from bot.store.keys import Keys
from bot.store.story_marks import StoryMarks
from handlers.alerts import AlertIndex, Hit, StoryText
from handlers.article import Article
from handlers.offload import off_loop
from handlers.query import QueryError, parse_query

log = logging.getLogger(__name__)

FLUSH_EVERY = 1.0


def story_text(article: Article) -> StoryText:
    body = article.content or article.description
    return StoryText(
        title=article.title,
        source=article.source,
        author=article.author,
        text=f"{article.summary}\n{body}",
    )


def may_alert(article: Article) -> bool:
    return not (article.update or article.backlog or article.first_fetch)


def build_index(alerts: Sequence[Alert]) -> AlertIndex:
    parsed = []
    for alert in alerts:
        try:
            parsed.append((alert.id, parse_query(alert.query)))
        except QueryError:
            log.warning("an alert's query no longer parses; skipped", extra={"alert": alert.id})
    return AlertIndex(parsed)


class AlertStep:
    """Pipeline step after routing: queue each new story for the alerts it matches."""

    name = "alert"
    required = False

    def __init__(
        self,
        client: Redis,
        keys: Keys,
        *,
        ttl: int,
        clock: Callable[[], float] = time.time,
        visibility: bool = True,
    ) -> None:
        self._client = client
        self._keys = keys
        self._clock = clock
        self._store = AlertStore(client, keys, ttl=ttl)
        self._audiences = AudienceStore(client, keys, clock=clock)
        self._marks = StoryMarks(client, keys, ttl=ttl, clock=clock)
        self._audiences.enabled = visibility  # off only for the benchmarks' baseline
        self._version = -1
        self._alerts: dict[str, Alert] = {}
        self._index = AlertIndex([])

    async def _refresh(self) -> None:
        version = await self._store.version()
        if version == self._version:
            return
        alerts = await self._store.all()
        self._index = await off_loop(build_index, alerts)
        self._alerts = {a.id: a for a in alerts}
        self._version = version

    async def run(self, articles: Sequence[Article]) -> list[Article]:
        candidates = [a for a in articles if may_alert(a)]
        if candidates:
            await self._refresh()
        if candidates and len(self._index):
            texts = [story_text(a) for a in candidates]
            hits = await off_loop(lambda: [self._index.match(t) for t in texts])
            await self._matched([(a, h) for a, h in zip(candidates, hits, strict=True) if h])
        return list(articles)

    async def _matched(self, found: list[tuple[Article, list[Hit]]]) -> None:
        """Queue every match of a batch, in a few round trips whatever their number."""
        if not found:
            return
        now = self._clock()
        alert_ids = sorted({h.alert_id for _, hits in found for h in hits} & self._alerts.keys())
        seen_by = await self._audiences.for_alerts([self._alerts[a] for a in alert_ids])
        owners = {self._alerts[a].owner for a in alert_ids}
        paused = await self._store.paused(sorted(owners), now)
        sorted_words: dict[frozenset[str], tuple[str, ...]] = {}
        matches = []
        for article, hits in found:
            for hit in hits:
                audience = seen_by.get(hit.alert_id)
                if audience is None or not audience.sees_feed(article.feed_id):
                    continue
                alert = self._alerts[hit.alert_id]
                if paused and alert.owner in paused:
                    continue
                words = sorted_words.get(hit.words)
                if words is None:
                    words = sorted_words[hit.words] = tuple(sorted(hit.words))
                matches.append((alert, Match(alert.id, article.story_id, words)))
        matches = await self._unmuted(matches)
        fresh = await self._store.record(matches, now)
        if fresh:
            log.info(
                "alerts matched",
                extra={
                    "matches": fresh,
                    "stories": len({m.story_id for _, m in matches}),
                    "alerts": ",".join(sorted({a.id for a, _ in matches})[:20]),
                },
            )

    async def _unmuted(self, matches: list[tuple[Alert, Match]]) -> list[tuple[Alert, Match]]:
        """The matches but a channel alert's on a story muted in its channel."""
        wanted: dict[str, list[str]] = {}
        for alert, match in matches:
            if alert.channel:
                wanted.setdefault(alert.target, []).append(match.story_id)
        muted = await self._marks.muted(wanted)
        if not muted:
            return matches
        return [(a, m) for a, m in matches if not (a.channel and (a.target, m.story_id) in muted)]


async def run_alert_flusher(
    store: AlertStore, stop: asyncio.Event, *, every: float = FLUSH_EVERY
) -> None:
    """Send each member's waiting alert matches once their minute is up."""
    while not stop.is_set():
        try:
            await store.flush_due()
        except RedisError as exc:
            log.warning("cannot reach Redis to send alert DMs; retrying", extra={"error": str(exc)})
        await sleep_unless_stopped(stop, every)
