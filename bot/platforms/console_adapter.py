"""The console adapter: `newsbot run` with no chat credentials prints deliveries here."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import TextIO

from redis.asyncio import Redis

from bot.keys import Keys
from bot.render.plain import format_item
from bot.story_store import load_stories
from handlers.story import digest_items


class ConsoleDeliverer:
    """Prints each delivery to a text stream (standard output by default)."""

    platform = "console"

    def __init__(self, client: Redis, keys: Keys, *, out: TextIO | None = None) -> None:
        self._client = client
        self._keys = keys
        self._out = out or sys.stdout

    async def deliver(self, message: Mapping[str, str]) -> None:
        channel = message.get("channel", "")
        kind = message.get("kind")
        if kind == "quiet":
            text = f"[{channel}] {message.get('text', '')}"
        else:
            ids = json.loads(message["stories"]) if kind == "digest" else [message["story"]]
            stories = await load_stories(self._client, self._keys, ids)
            blocks = [format_item(item) for story in stories for item in digest_items([story])]
            if kind == "digest":
                more = int(message.get("more", "0"))
                heading = f"[{channel}] {message.get('heading', 'News digest')}"
                text = "\n\n".join([heading, *blocks] + ([f"…and {more} more"] if more else []))
            else:
                text = f"[{channel}] new story\n" + "\n".join(blocks)
        self._out.write(text + "\n\n")
        self._out.flush()
