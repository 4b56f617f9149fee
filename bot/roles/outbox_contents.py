"""What an outbox message holds, read back for a platform's deliverer to render.

The outbox carries ids, not text (see `bot.roles.routing`, `bot.roles.scheduler` and
`bot.roles.feed_health`): ``kind`` is ``story`` (one story id), ``digest`` (story ids in
the scheduler's ranking, a heading, and how many more were left out), or ``quiet`` and
``notice`` (a line of text). Every deliverer turns one into either a platform-neutral
`Digest` or a plain text line, the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

from redis.asyncio import Redis

from bot.store.keys import Keys
from bot.store.stories import load_stories
from handlers.digest import Digest
from handlers.safe_text import printable
from handlers.story import digest_items

TEXT_KINDS = frozenset({"quiet", "notice"})


async def message_contents(
    client: Redis, keys: Keys, message: Mapping[str, str], *, story_heading: str = "New story"
) -> Digest | str:
    """The digest (stories, in the message's order) or the text line a message carries."""
    kind = message.get("kind")
    if kind in TEXT_KINDS:
        return printable(message.get("text", ""))
    ids = json.loads(message["stories"]) if kind == "digest" else [message["story"]]
    stories = await load_stories(client, keys, ids)
    items = digest_items(stories)
    if kind != "digest":
        return Digest(story_heading, tuple(items), datetime.now(UTC))
    # Keep the scheduler's ranking: digest_items sorts by time.
    rank = {story_id: n for n, story_id in enumerate(ids)}
    owner = {c.id: s.id for s in stories for c in s.copies}
    items.sort(key=lambda item: rank.get(owner.get(item.id, ""), 0))
    more = int(message.get("more", "0"))
    return Digest(message.get("heading", "News digest"), tuple(items), datetime.now(UTC), more=more)
