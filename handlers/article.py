"""The platform-neutral article: what every pipeline step reads and returns."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any


def short_hash(text: str) -> str:
    """A stable 16-hex-digit hash, for ids and Redis key suffixes."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


@dataclass(slots=True, kw_only=True)
class Article:
    """One feed entry on its way through the pipeline.

    `description` and `content` hold the feed's HTML until the normalize step turns them
    into plain text. `ingest_id` names this one reading of the entry, so a step retried
    after a crash recognises its own earlier claims. `id` is a stable hash of the canonical
    URL (or of feed and entry key when the entry has no link); `copy_of` is set by dedup to
    the story an article folds into, and stays empty for the first copy of a story.
    `update` marks an edit of an entry already stored: it changes the stored story and is
    never delivered again. `backlog` marks an entry of a feed's first fetch beyond the
    newest few (`NEWSBOT_FIRST_FETCH_MAX`): stored and searchable, never delivered.
    `first_fetch` marks every entry of a feed's first fetch: it never triggers an alert.
    `read_page` is False for a thin entry past its poll's page budget
    (`NEWSBOT_ENRICH_MAX_PER_POLL`): it keeps the feed's own text. `fetched_version` is a
    hash of the entry as fetched, before any step changed it: a later fetch that finds the
    same version knows the entry unchanged and never queues it again.
    """

    feed_id: str
    feed_url: str
    source: str
    entry_key: str
    guid: str = ""
    title: str = ""
    url: str = ""
    canonical_url: str = ""
    published: datetime | None = None
    author: str = ""
    description: str = ""
    content: str = ""
    tags: tuple[str, ...] = ()
    language: str = "en"
    seen_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    ingest_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    id: str = ""
    copy_of: str = ""
    update: bool = False
    backlog: bool = False
    first_fetch: bool = False
    read_page: bool = True
    fold_reason: str = ""
    summary: str = ""
    summary_method: str = ""
    fetched_version: str = ""

    @property
    def entry_hash(self) -> str:
        return short_hash(self.entry_key)

    @property
    def is_copy(self) -> bool:
        """True when dedup folded this article into an earlier story."""
        return bool(self.copy_of)

    @property
    def story_id(self) -> str:
        """The story this article belongs to: its own id, or the one it was folded into."""
        return self.copy_of or self.id

    def evolve(self, **changes: Any) -> Article:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["published"] = self.published.isoformat() if self.published else None
        data["seen_at"] = self.seen_at.isoformat()
        data["tags"] = list(self.tags)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        values = dict(data)
        published = values.get("published")
        values["published"] = datetime.fromisoformat(published) if published else None
        values["seen_at"] = datetime.fromisoformat(values["seen_at"])
        values["tags"] = tuple(values.get("tags") or ())
        return cls(**values)
