"""The dedup step: drop entries already seen, fold copies of a page into one story.

Rules (baseline):
1. Within a feed, an entry is identified by its entry key: the guid, else the canonical
   link, else a hash of title and date (see the parser). An entry key seen before is a
   repeat of the same entry and goes no further.
2. Across feeds, an article whose canonical URL was seen before is a copy of that story:
   it keeps going with `copy_of` set to the story it folds into.

The index is shared by every worker (Redis in the bot); claims are first-writer-wins, so
two workers racing on the same entry agree on one outcome. A claim carries the article's
`ingest_id`: when a batch is retried after a crash, claims it made itself count as won, so
a retry never mistakes its own earlier attempt for a repeat and loses the entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from handlers.article import Article, short_hash
from handlers.urls import url_identity

ClaimKind = Literal["entry", "url"]


@dataclass(frozen=True)
class Claim:
    """Record (`story_id`, `token`) under (`kind`, `scope`, `ident`) unless something is there."""

    kind: ClaimKind
    scope: str
    ident: str
    story_id: str
    token: str


@dataclass(frozen=True)
class Holder:
    """Who holds a claim: the story it points at and the ingest that made it."""

    story_id: str
    token: str


class DedupIndex(Protocol):
    """The shared memory of what has been seen; implemented on Redis in `bot`."""

    async def claim(self, claims: Sequence[Claim]) -> list[Holder | None]:
        """Apply claims in order; for each return the earlier holder, or None if it won."""
        ...


def _won(holder: Holder | None, article: Article) -> bool:
    return holder is None or holder.token == article.ingest_id


@dataclass
class DedupStep:
    """Pipeline step applying the rules above through a `DedupIndex`."""

    index: DedupIndex
    name: str = "dedup"
    required: bool = True

    async def run(self, articles: Sequence[Article]) -> list[Article]:
        held = await self.index.claim(
            [Claim("entry", a.feed_id, a.entry_hash, a.id, a.ingest_id) for a in articles]
        )
        fresh = [a for a, holder in zip(articles, held, strict=True) if _won(holder, a)]
        with_url = [a for a in fresh if a.canonical_url]
        owners = await self.index.claim(
            [
                Claim("url", "", short_hash(url_identity(a.canonical_url)), a.id, a.ingest_id)
                for a in with_url
            ]
        )
        story_of = {
            a.ingest_id: holder.story_id
            for a, holder in zip(with_url, owners, strict=True)
            if not _won(holder, a) and holder is not None
        }
        return [a.evolve(copy_of=story_of.get(a.ingest_id, "")) for a in fresh]
