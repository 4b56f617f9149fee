"""The fold step: near-duplicates and the same story from other outlets become one story.

Runs after summarising, so every text is compared as title plus summary, the same form the
store keeps. Candidates come from a shared index (LSH bands and topic pairs, see
`handlers.fingerprint`) and from earlier articles of the same batch; `handlers.story_match`
decides. An article that folds keeps going with `copy_of` set, and its dedup claims are
pointed at the story it joined, so later copies and edits find that story directly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from handlers.article import Article
from handlers.dedup import DedupIndex, url_claim
from handlers.fingerprint import Fingerprint
from handlers.offload import off_loop
from handlers.story import Story
from handlers.story_match import Match, Text, match


@dataclass(frozen=True)
class IndexEntry:
    """Index keys of one text, the time they count from, and the story they lead to."""

    keys: tuple[str, ...]
    when: datetime
    story_id: str = ""


class StoryIndex(Protocol):
    """Shared candidate index over recent stories; implemented on Redis in `bot`."""

    async def candidates(self, queries: Sequence[IndexEntry]) -> list[set[str]]:
        """For each query, the ids of recent stories filed under any of its keys."""
        ...

    async def remember(self, entries: Sequence[IndexEntry]) -> None:
        """File each entry's story under its keys."""
        ...

    async def stories(self, story_ids: Sequence[str]) -> list[Story]:
        """The stories still stored, for verifying candidates."""
        ...


def lead_of(article: Article) -> str:
    """The text a story is compared by: its summary, else the start of its own text."""
    return article.summary or (article.description or article.content)[:600]


def when_of(article: Article) -> datetime:
    published = article.published or article.seen_at
    return min(published, article.seen_at)


def index_keys(fingerprint: Fingerprint) -> tuple[str, ...]:
    return tuple(f"n{band}" for band in fingerprint.bands) + tuple(
        f"t{topic}" for topic in fingerprint.topics
    )


@dataclass
class FoldStep:
    """Pipeline step folding near-duplicates and cross-outlet copies into earlier stories."""

    index: StoryIndex
    dedup: DedupIndex
    name: str = "fold"
    required: bool = False

    async def run(self, articles: Sequence[Article]) -> list[Article]:
        pending = [a for a in articles if not a.update]
        # Fingerprints and matching are CPU work (MinHash, n-grams): each runs in a worker
        # thread, so the event loop goes on between the Redis round trips.
        texts = await off_loop(self._texts, pending)
        queries = [
            IndexEntry(index_keys(texts[a.ingest_id].fingerprint), texts[a.ingest_id].when)
            for a in pending
            if a.ingest_id in texts
        ]
        found = iter(await self.index.candidates(queries))
        candidate_ids = {a.ingest_id: next(found) for a in pending if a.ingest_id in texts}
        known = await self.index.stories(sorted({i for ids in candidate_ids.values() for i in ids}))
        out = await off_loop(self._decide, articles, texts, candidate_ids, known)
        await self._record(out, texts)
        return out

    @staticmethod
    def _texts(pending: Sequence[Article]) -> dict[str, Text]:
        return {
            a.ingest_id: Text(Fingerprint.of(a.title, lead_of(a)), when_of(a), a.feed_id)
            for a in pending
            if not a.is_copy
        }

    def _decide(
        self,
        articles: Sequence[Article],
        texts: dict[str, Text],
        candidate_ids: dict[str, set[str]],
        known: Sequence[Story],
    ) -> list[Article]:
        known_texts: dict[str, list[Text]] = {
            story.id: [
                Text(Fingerprint.of(c.title, story.summary), c.published or c.seen, c.feed_id)
                for c in story.copies
            ]
            for story in known
        }
        batch_keys: dict[str, list[str]] = defaultdict(list)
        out: list[Article] = []
        for article in articles:
            text = texts.get(article.ingest_id)
            if text is None:
                out.append(article)
                continue
            keys = index_keys(text.fingerprint)
            nearby = set(candidate_ids[article.ingest_id])
            nearby.update(i for key in keys for i in batch_keys.get(key, ()))
            best = self._best(text, nearby, known_texts, article.id)
            if best is not None:
                story_id, reason = best
                article = article.evolve(copy_of=story_id, fold_reason=reason.kind)
            known_texts.setdefault(article.story_id, []).append(text)
            for key in keys:
                batch_keys[key].append(article.story_id)
            out.append(article)
        return out

    @staticmethod
    def _best(
        text: Text, nearby: set[str], known_texts: dict[str, list[Text]], own_id: str
    ) -> tuple[str, Match] | None:
        best: tuple[str, Match] | None = None
        for story_id in sorted(nearby - {own_id}):
            for other in known_texts.get(story_id, ()):
                found = match(text, other)
                if found is None:
                    continue
                rank = (found.kind == "near-duplicate", found.score)
                if best is None or rank > (best[1].kind == "near-duplicate", best[1].score):
                    best = (story_id, found)
        return best

    async def _record(self, articles: list[Article], texts: dict[str, Text]) -> None:
        entries = [
            IndexEntry(
                index_keys(texts[a.ingest_id].fingerprint), texts[a.ingest_id].when, a.story_id
            )
            for a in articles
            if a.ingest_id in texts
        ]
        await self.index.remember(entries)
        folded = [a for a in articles if a.fold_reason]
        # Entry claims are pointed at their story by the store step, for every article.
        claims = [c for a in folded if (c := url_claim(a, a.story_id)) is not None]
        if claims:
            await self.dedup.repoint(claims)
