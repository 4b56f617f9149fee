"""The dedup step: drop entries already seen, catch edits, fold copies of a page.

Rules:
1. Within a feed, an entry is identified by its entry key: the guid, else the canonical
   link, else a hash of title and date (see the parser and `handlers.identity`). An entry
   key seen before with the same title and text is a repeat and goes no further; with a
   new title or text it is an edit: it goes on as an update of the story it belongs to, and
   is never posted again.
2. Across feeds, an article whose URL identity (`handlers.urls.url_identity`) was seen
   before is a copy of that story: it goes on with `copy_of` set to that story. From the
   feed that brought the page first and with the same title, it is that entry again under
   a new key (a feed whose guids changed, see `handlers.identity`) and goes no further;
   with another title it is another entry that shares the link (a feed linking every
   entry to one page) and becomes a story of its own.
Near-duplicates and the same story from other outlets are folded later, once the article
has a summary (`handlers.folding`).

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
    """Record (`story_id`, `token`, `version`) under (`kind`, `scope`, `ident`)."""

    kind: ClaimKind
    scope: str
    ident: str
    story_id: str
    token: str
    version: str = ""


@dataclass(frozen=True)
class Holder:
    """Who holds a claim: the story it points at, the ingest that made it, its version."""

    story_id: str
    token: str
    version: str = ""


class DedupIndex(Protocol):
    """The shared memory of what has been seen; implemented on Redis in `bot`."""

    async def claim(self, claims: Sequence[Claim]) -> list[Holder | None]:
        """Apply claims in order; for each return the earlier holder, or None if it won."""
        ...

    async def repoint(self, claims: Sequence[Claim]) -> None:
        """Overwrite existing claims (keeping their expiry): a fold or an edit moved them."""
        ...


def content_version(article: Article) -> str:
    """Changes when an entry's title or text is edited."""
    return short_hash(f"{article.title}\n{article.description}\n{article.content}")[:8]


def fetched_version(article: Article) -> str:
    """What a fetch said of an entry, as a short hash: any change of its link, title, date
    or text (as the feed has them, before normalising) gives another."""
    published = article.published.isoformat() if article.published else ""
    fields = (article.url, article.title, published, article.description, article.content)
    return short_hash("\n".join(fields))[:8]


def entry_claim(article: Article, story_id: str) -> Claim:
    return Claim(
        "entry",
        article.feed_id,
        article.entry_hash,
        story_id,
        article.ingest_id,
        content_version(article),
    )


def _url_version(article: Article) -> str:
    """Which feed brought the page, and under what title."""
    return f"{article.feed_id}/{short_hash(article.title)[:8]}"


def url_claim(article: Article, story_id: str) -> Claim | None:
    """The claim on the article's page; its version names the feed and title that brought it."""
    identity = url_identity(article.canonical_url)
    if not identity:
        return None
    return Claim(
        "url", "", short_hash(identity), story_id, article.ingest_id, _url_version(article)
    )


def _own(holder: Holder | None, article: Article) -> bool:
    return holder is None or holder.token == article.ingest_id


@dataclass
class DedupStep:
    """Pipeline step applying the rules above through a `DedupIndex`."""

    index: DedupIndex
    name: str = "dedup"
    required: bool = True

    async def run(self, articles: Sequence[Article]) -> list[Article]:
        held = await self.index.claim([entry_claim(a, a.id) for a in articles])
        fresh: list[Article] = []
        updates: list[Article] = []
        for article, holder in zip(articles, held, strict=True):
            if _own(holder, article):
                fresh.append(article)
            elif holder is not None and holder.version != content_version(article):
                updates.append(article.evolve(copy_of=holder.story_id, update=True))
        if updates:
            await self.index.repoint([entry_claim(a, a.copy_of) for a in updates])
        claims = [(a, url_claim(a, a.id)) for a in fresh]
        with_url = [(a, c) for a, c in claims if c is not None]
        owners = await self.index.claim([c for _, c in with_url])
        story_of: dict[str, str] = {}
        repeats: set[str] = set()
        shared_link: set[str] = set()
        for (article, _), holder in zip(with_url, owners, strict=True):
            if holder is None or _own(holder, article):
                continue
            if holder.version == _url_version(article):
                repeats.add(article.ingest_id)  # its own entry again, under a new entry key
            elif holder.version.split("/")[0] == article.feed_id:
                shared_link.add(article.ingest_id)  # another entry of the feed, same link
            else:
                story_of[article.ingest_id] = holder.story_id
        out: list[Article] = []
        for article in fresh:
            if article.ingest_id in repeats:
                continue
            if article.ingest_id in shared_link:
                # Its own story, under an id of its own: nothing is folded or lost.
                article = article.evolve(
                    id=short_hash(f"{article.canonical_url}\n{article.entry_key}")
                )
            out.append(article.evolve(copy_of=story_of.get(article.ingest_id, "")))
        return out + updates
