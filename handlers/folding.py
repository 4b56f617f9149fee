"""The fold step: near-duplicates and the same story from other outlets become one story.

Runs after summarising, so every text is compared as title plus summary, the same form the
store keeps. Candidates come from a shared index (LSH bands, and the text's most telling
words by TF-IDF, see `handlers.fingerprint` and `handlers.tfidf`) and from earlier
articles of the same batch; `handlers.story_match` decides, against every member of a
candidate story. An article that folds keeps going with `copy_of` set, and its dedup
claims are pointed at the story it joined, so later copies and edits find that story
directly. New stories are counted into the document frequencies afterwards.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from handlers.article import Article
from handlers.dedup import DedupIndex, url_claim
from handlers.fingerprint import Fingerprint, word_counts
from handlers.offload import off_loop
from handlers.story import Story, StoryCopy
from handlers.story_match import CROSS_OUTLET_SCORE, Match, Text, genre_of, story_match
from handlers.tfidf import DocumentFrequencies, Frequencies, top_terms, vector


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


def frequency_words(article: Article) -> set[str]:
    """The words a story counts for in the document frequencies: its title and the start
    of its text (known before summarising, so a digest can count a whole run first)."""
    return set(word_counts(article.title, (article.description or article.content)[:600]))


def when_of(article: Article) -> datetime:
    published = article.published or article.seen_at
    return min(published, article.seen_at)


def index_keys(text: Text, frequencies: Frequencies) -> tuple[str, ...]:
    """LSH bands always; the most telling words once the frequencies can be trusted."""
    bands = tuple(f"n{band}" for band in text.fingerprint.bands)
    if not frequencies.trusted:
        return bands
    return bands + tuple(f"w{zlib.crc32(w.encode()):08x}" for w in top_terms(text.weights))


@dataclass
class FoldStep:
    """Pipeline step folding near-duplicates and cross-outlet copies into earlier stories."""

    index: StoryIndex
    dedup: DedupIndex
    frequencies: DocumentFrequencies
    threshold: float = CROSS_OUTLET_SCORE
    name: str = "fold"
    required: bool = False

    async def run(self, articles: Sequence[Article]) -> list[Article]:
        pending = [a for a in articles if not a.update and not a.is_copy]
        # Fingerprints and matching are CPU work (MinHash, n-grams): each runs in a worker
        # thread, so the event loop goes on between the Redis round trips.
        prints = await off_loop(
            lambda: {a.ingest_id: Fingerprint.of(a.title, lead_of(a)) for a in pending}
        )
        frequencies = await self.frequencies.get({w for f in prints.values() for w in f.counts})
        # Weights, genres and index keys are CPU work too: off the event loop, like the rest.
        texts = await off_loop(
            lambda: {
                a.ingest_id: _text(prints[a.ingest_id], when_of(a), a.feed_id, a, frequencies)
                for a in pending
            }
        )
        queries = await off_loop(
            lambda: [
                IndexEntry(index_keys(texts[a.ingest_id], frequencies), texts[a.ingest_id].when)
                for a in pending
            ]
        )
        found = iter(await self.index.candidates(queries))
        candidate_ids = {a.ingest_id: next(found) for a in pending}
        known = await self.index.stories(sorted({i for ids in candidate_ids.values() for i in ids}))
        known_prints = await off_loop(
            lambda: [
                [(Fingerprint.of(c.title, story.summary), c) for c in story.copies]
                for story in known
            ]
        )
        more = {w for copies in known_prints for f, _ in copies for w in f.counts}
        frequencies = frequencies.merged(await self.frequencies.get(more - set(frequencies.counts)))
        known_texts = await off_loop(
            lambda: {
                story.id: [
                    _text(f, c.published or c.seen, c.feed_id, c, frequencies) for f, c in copies
                ]
                for story, copies in zip(known, known_prints, strict=True)
            }
        )
        out = await off_loop(self._decide, articles, texts, frequencies, candidate_ids, known_texts)
        await self._record(out, texts, frequencies)
        return out

    def _decide(
        self,
        articles: Sequence[Article],
        texts: dict[str, Text],
        frequencies: Frequencies,
        candidate_ids: dict[str, set[str]],
        known_texts: dict[str, list[Text]],
    ) -> list[Article]:
        batch_keys: dict[str, list[str]] = defaultdict(list)
        out: list[Article] = []
        for article in articles:
            text = texts.get(article.ingest_id)
            if text is None:
                out.append(article)
                continue
            keys = index_keys(text, frequencies)
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

    def _best(
        self, text: Text, nearby: set[str], known_texts: dict[str, list[Text]], own_id: str
    ) -> tuple[str, Match] | None:
        best: tuple[str, Match] | None = None
        for story_id in sorted(nearby - {own_id}):
            found = story_match(text, known_texts.get(story_id, []), threshold=self.threshold)
            if found is None:
                continue
            rank = (found.kind == "near-duplicate", found.score)
            if best is None or rank > (best[1].kind == "near-duplicate", best[1].score):
                best = (story_id, found)
        return best

    async def _record(
        self, articles: list[Article], texts: dict[str, Text], frequencies: Frequencies
    ) -> None:
        def prepare() -> tuple[list[IndexEntry], list[set[str]]]:
            entries = [
                IndexEntry(
                    index_keys(texts[a.ingest_id], frequencies), texts[a.ingest_id].when, a.story_id
                )
                for a in articles
                if a.ingest_id in texts
            ]
            new = [frequency_words(a) for a in articles if a.ingest_id in texts and not a.is_copy]
            return entries, new

        entries, new = await off_loop(prepare)
        await self.index.remember(entries)
        await self.frequencies.learn(new)
        folded = [a for a in articles if a.fold_reason]
        # Entry claims are pointed at their story by the store step, for every article.
        claims = [c for a in folded if (c := url_claim(a, a.story_id)) is not None]
        if claims:
            await self.dedup.repoint(claims)


def _text(
    fingerprint: Fingerprint,
    when: datetime,
    feed_id: str,
    item: Article | StoryCopy,
    frequencies: Frequencies,
) -> Text:
    return Text(
        fingerprint,
        when,
        feed_id,
        vector(fingerprint.counts, frequencies),
        genre_of(item.title, item.url),
    )
