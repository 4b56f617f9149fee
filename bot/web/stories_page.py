"""What the Stories page shows: a channel's latest stories, or those matching a search, as
that channel may see them (`handlers.visibility`): each story's visible copies only."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from bot.render.text_limits import safe_url, when
from bot.store.audience import AudienceStore
from bot.store.keys import Keys
from bot.store.search_index import SearchIndex
from bot.store.stories import newest_stories
from handlers.channels import ChannelRef
from handlers.query import QueryError
from handlers.story import DigestItem
from handlers.visibility import project_all

LATEST = 20


@dataclass(frozen=True)
class CopyView:
    source: str
    title: str
    url: str


@dataclass(frozen=True)
class StoryView:
    title: str
    url: str
    source: str
    when: str
    outlets: int
    summary: str
    copies: tuple[CopyView, ...]


@dataclass(frozen=True)
class StoriesResult:
    heading: str
    items: tuple[StoryView, ...]
    partial: bool = False
    problem: str = ""


def _view(item: DigestItem) -> StoryView:
    copies = tuple(CopyView(c.source, c.title, safe_url(c.url)) for c in item.also)
    return StoryView(
        item.title, safe_url(item.url), item.source, when(item.published), item.outlets,
        item.summary, copies,
    )  # fmt: skip


async def channel_stories(
    client: Redis,
    keys: Keys,
    audiences: AudienceStore,
    search: SearchIndex,
    channel: ChannelRef,
    query: str,
    *,
    budget_ms: float,
) -> StoriesResult:
    """The channel's latest stories, or the stories it may see that match `query`."""
    audience = await audiences.for_channel(channel)
    if not query:
        stories = await newest_stories(client, keys, sorted(audience.own), LATEST)
        items = project_all(stories, audience)
        heading = f"The {len(items)} newest stories of {channel}'s feeds."
        return StoriesResult(heading, tuple(map(_view, items)))
    try:
        found = await search.search(query, audience=audience, limit=LATEST, budget_ms=budget_ms)
    except QueryError as exc:
        return StoriesResult("", (), problem=str(exc))
    heading = f"{len(found.items)} stories {channel} may see match the search, newest first."
    return StoriesResult(heading, tuple(map(_view, found.items)), partial=found.partial)
