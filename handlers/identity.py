"""Stable identity per feed: which field tells this feed's entries apart across fetches.

Most feeds give each entry a guid that never changes, and that is the entry key. Some do
not (MonitoRSS's id resolver exists for them): guids that change on every fetch, guids
repeated within one fetch, or no guid and dates that move. Comparing each fetch with the
one before tells them apart:

- ``guid``: the default (guid, else link, else a hash of title and date).
- ``link``: guids repeat within a fetch, or at least half of the entries whose link was in
  the previous fetch came back with another guid. The key is the link's URL identity.
- ``title``: links repeat within a fetch too, or (with no guids or links) at least half of
  the titles came back with another date. The key is a hash of the title.

A feed only ever moves down that list, never back, so keys do not flap. Changing mode
makes the feed's entries look new once; dedup's URL claims and the fold step keep them
from becoming new stories.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from handlers.article import Article, short_hash
from handlers.urls import url_identity

IdMode = Literal["guid", "link", "title"]
MODES: tuple[IdMode, ...] = ("guid", "link", "title")
UNSTABLE = 0.5


@dataclass
class FetchSnapshot:
    """What one fetch said about its entries, compactly: link -> guid and title -> date."""

    guid_of_link: dict[str, str] = field(default_factory=dict)
    date_of_title: dict[str, str] = field(default_factory=dict)

    def dumps(self) -> str:
        return json.dumps([self.guid_of_link, self.date_of_title], separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> FetchSnapshot | None:
        try:
            links, titles = json.loads(text)
            return cls(dict(links), dict(titles))
        except (ValueError, TypeError):
            return None


def _h(text: str) -> str:
    return short_hash(text)[:10]


def snapshot(articles: Sequence[Article]) -> FetchSnapshot:
    shot = FetchSnapshot()
    for article in articles:
        identity = url_identity(article.url)
        if identity and article.guid:
            shot.guid_of_link[_h(identity)] = _h(article.guid)
        if article.title:
            stamp = article.published.isoformat() if article.published else ""
            shot.date_of_title[_h(article.title)] = stamp
    return shot


def _changed_share(before: dict[str, str], after: dict[str, str]) -> float:
    common = [key for key in after if key in before]
    if len(common) < 2:
        return 0.0
    return sum(before[key] != after[key] for key in common) / len(common)


def _repeats(values: Sequence[str]) -> bool:
    present = [v for v in values if v]
    return len(set(present)) < len(present)


def choose_mode(
    mode: IdMode, articles: Sequence[Article], previous: FetchSnapshot | None
) -> tuple[IdMode, str]:
    """The mode for this fetch, and why it changed ("" when it did not)."""
    current = snapshot(articles)
    if mode == "guid":
        if _repeats([a.guid for a in articles]):
            return "link", "guids repeat within one fetch"
        if previous and _changed_share(previous.guid_of_link, current.guid_of_link) >= UNSTABLE:
            return "link", "guids change between fetches"
        has_guid_or_link = any(a.guid or a.url for a in articles)
        if (
            not has_guid_or_link
            and previous
            and _changed_share(previous.date_of_title, current.date_of_title) >= UNSTABLE
        ):
            return "title", "dates change between fetches"
    if mode == "link" and _repeats([url_identity(a.url) for a in articles]):
        return "title", "links repeat within one fetch"
    return mode, ""


def apply_mode(article: Article, mode: IdMode) -> Article:
    """Give an article the entry key its feed's mode calls for."""
    if mode == "guid":
        return article
    identity = url_identity(article.url)
    if mode == "link" and identity:
        return article.evolve(entry_key=f"link:{identity}")
    return article.evolve(entry_key=f"title:{short_hash(article.title)}")


def resolve_identity(
    mode: str, articles: Sequence[Article], previous: FetchSnapshot | None
) -> tuple[IdMode, str, list[Article], FetchSnapshot]:
    """Decide the mode, rekey the articles, and return the snapshot to keep for next time."""
    chosen: IdMode = "guid"
    for known in MODES:
        if known == mode:
            chosen = known
    reasons: list[str] = []
    while True:
        following, why = choose_mode(chosen, articles, previous)
        if following == chosen:
            break
        chosen = following
        reasons.append(why)
    return chosen, "; ".join(reasons), [apply_mode(a, chosen) for a in articles], snapshot(articles)
