"""What an outbox message holds, read back for a platform's deliverer to render.

The outbox carries ids, not text (see `bot.roles.routing`, `bot.roles.scheduler` and
`bot.roles.feed_health`): ``kind`` is ``story`` (one story id), ``digest`` (story ids in
the scheduler's ranking, a heading, and how many more were left out), or ``quiet`` and
``notice`` (a line of text), or ``alert`` (matches of keyword alerts: alert, story and the
words to highlight). Every deliverer turns one into a platform-neutral `Digest`,
`AlertMessage` or plain text line, the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

from redis.asyncio import Redis

from bot.store.alerts import DM, Alert, Match
from bot.store.keys import Keys
from bot.store.stories import load_stories
from handlers.alerts import AlertItem, AlertMessage
from handlers.channels import ChannelRef
from handlers.digest import Digest
from handlers.safe_text import printable
from handlers.story import digest_items

TEXT_KINDS = frozenset({"quiet", "notice"})


Contents = Digest | AlertMessage | str


async def message_contents(
    client: Redis, keys: Keys, message: Mapping[str, str], *, story_heading: str = "New story"
) -> Contents:
    """The digest (stories, in the message's order), alert matches or text a message carries."""
    kind = message.get("kind")
    if kind in TEXT_KINDS:
        return printable(message.get("text", ""))
    if kind == "alert":
        return await alert_contents(client, keys, message)
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


async def alert_contents(client: Redis, keys: Keys, message: Mapping[str, str]) -> AlertMessage:
    """The stories of an alert message, with the alert that fired and the words it found."""
    matches = [Match.from_dict(m) for m in json.loads(message.get("items", "[]"))]
    stories = await load_stories(client, keys, list(dict.fromkeys(m.story_id for m in matches)))
    by_story = {}
    for story in stories:
        items = digest_items([story])
        if items:
            by_story[story.id] = items[0]
    ids = sorted({m.alert_id for m in matches})
    raws = await client.hmget(keys.alerts, ids) if ids else []
    queries = {a: Alert.from_json(str(raw)).query for a, raw in zip(ids, raws, strict=True) if raw}
    shown = tuple(
        AlertItem(by_story[m.story_id], m.alert_id, queries.get(m.alert_id, ""), frozenset(m.words))
        for m in matches
        if m.story_id in by_story
    )
    personal = ChannelRef.parse(message["channel"]).workspace == DM
    return AlertMessage(shown, personal=personal)
