"""The console adapter: `newsbot run` with no chat credentials prints deliveries here.

On a terminal it prints in colour (`bot.render.terminal`); into a pipe or file, plain text.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import TextIO

from redis.asyncio import Redis

from bot.render.plain import format_alert, format_digest
from bot.render.terminal import render_digest_terminal
from bot.roles.outbox_contents import message_contents
from bot.store.audience import AudienceStore
from bot.store.keys import Keys
from handlers.alerts import AlertMessage
from handlers.channels import ChannelRef


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
        self._audiences = AudienceStore(client, keys)

    async def tell_refused(self, channel: ChannelRef, reason: str) -> None:
        """The console never refuses; nobody to tell."""

    async def deliver(self, message: Mapping[str, str], *, plain: bool = False) -> None:
        channel = message.get("channel", "")
        contents = await message_contents(
            self._client, self._keys, message, audiences=self._audiences, story_heading="new story"
        )
        if contents is None:
            return
        if isinstance(contents, str):
            text = f"[{channel}] {contents}"
        elif isinstance(contents, AlertMessage):
            text = f"[{channel}] {format_alert(contents)}"
        else:
            digest = replace(contents, heading=f"[{channel}] {contents.heading}")
            # The terminal's colour layout is the standard style; another is shown as text.
            styled = digest.style.name != "standard"
            colour = self._color and not styled
            text = render_digest_terminal(digest) if colour else format_digest(digest)
        self._out.write(text + "\n\n")
        self._out.flush()
