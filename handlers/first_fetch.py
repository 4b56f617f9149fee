"""Seeding a new feed: its first fetch is history, apart from the newest few entries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from handlers.article import Article

_UNDATED = datetime.min.replace(tzinfo=UTC)


def mark_backlog(articles: Sequence[Article], *, deliver: int) -> list[Article]:
    """Mark all but the `deliver` newest entries of a first fetch as backlog.

    Nothing is dropped: backlog entries are stored and searchable like any other, they are
    only never delivered. Every entry of a first fetch is marked `first_fetch`: none of
    them triggers an alert. Newest means by publication time, undated entries last; the
    feed's own order breaks ties, as feeds list their newest first.
    """
    order = sorted(
        range(len(articles)),
        key=lambda i: (articles[i].published or _UNDATED, -i),
        reverse=True,
    )
    newest = set(order[:deliver])
    return [a.evolve(backlog=i not in newest, first_fetch=True) for i, a in enumerate(articles)]
