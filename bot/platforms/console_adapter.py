"""The console adapter: `newsbot run` with no chat credentials prints deliveries here.

On a terminal it prints in colour (`bot.render.terminal`); into a pipe or file, plain text.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TextIO

from redis.asyncio import Redis

from bot.render.plain import format_digest
from bot.render.terminal import render_digest_terminal
from bot.store.keys import Keys
from bot.store.stories import load_stories
from handlers.digest import Digest
from handlers.safe_text import printable
from handlers.story import digest_items


def is_terminal(out: TextIO) -> bool:
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty())


class ConsoleDeliverer:
    """Prints each delivery to a text stream (standard output by default)."""

    platform = "console"

    def __init__(self, client: Redis, keys: Keys, *, out: TextIO | None = None) -> None:
        self._client = client
        self._keys = keys
        self._out = out or sys.stdout
        self._color = is_terminal(self._out)

    async def deliver(self, message: Mapping[str, str]) -> None:
        channel = message.get("channel", "")
        kind = message.get("kind")
        if kind in {"quiet", "notice"}:
            text = f"[{channel}] {printable(message.get('text', ''))}"
        else:
            ids = json.loads(message["stories"]) if kind == "digest" else [message["story"]]
            stories = await load_stories(self._client, self._keys, ids)
            items = digest_items(stories)
            if kind == "digest":
                # Keep the scheduler's ranking: digest_items sorts by time.
                rank = {story_id: n for n, story_id in enumerate(ids)}
                owner = {c.id: s.id for s in stories for c in s.copies}
                items.sort(key=lambda item: rank.get(owner.get(item.id, ""), 0))
                heading = f"[{channel}] {message.get('heading', 'News digest')}"
                more = int(message.get("more", "0"))
            else:
                heading, more = f"[{channel}] new story", 0
            digest = Digest(heading, tuple(items), datetime.now(UTC), more=more)
            text = render_digest_terminal(digest) if self._color else format_digest(digest)
        self._out.write(text + "\n\n")
        self._out.flush()
