"""Channels and their subscriptions, as plain data.

A channel is written ``PLATFORM:WORKSPACE:CHANNEL``: ``slack:T0123:C0456``,
``discord:112233:445566`` or ``console:local:main``. A subscription ties a channel to a
watched feed, with a mode (``digest``, the default, or ``instant``), an optional filter in
the query language (`handlers.query`) and a priority that lifts the feed's stories in
digests.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from handlers.query import QueryError, parse_query

PLATFORMS = ("slack", "discord", "console")
MODES = ("digest", "instant")
Mode = Literal["digest", "instant"]
_PART = re.compile(r"^[A-Za-z0-9_.\-]+$")


class ChannelError(ValueError):
    """A channel or subscription that cannot be used; the message says how to write it."""


@dataclass(frozen=True, order=True)
class ChannelRef:
    """Where messages go: a platform, a workspace (team, guild) and a channel in it."""

    platform: str
    workspace: str
    channel: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.workspace}:{self.channel}"

    @classmethod
    def parse(cls, text: str) -> ChannelRef:
        parts = text.strip().split(":")
        if len(parts) != 3:
            raise ChannelError(
                f"{text!r} is not a channel; write PLATFORM:WORKSPACE:CHANNEL, "
                "e.g. slack:T0123:C0456, discord:112233:445566 or console:local:main"
            )
        platform, workspace, channel = parts
        if platform not in PLATFORMS:
            raise ChannelError(f"unknown platform {platform!r}; use {', '.join(PLATFORMS)}")
        if not (_PART.match(workspace) and _PART.match(channel)):
            raise ChannelError(f"{text!r}: workspace and channel are ids of letters and digits")
        return cls(platform, workspace, channel)


@dataclass(frozen=True)
class Subscription:
    """One channel's subscription to one feed."""

    channel: ChannelRef
    feed_id: str
    mode: Mode = "digest"
    filter: str = ""
    priority: int = 0
    added_by: str = ""
    added_at: float = 0.0
    paused: bool = False  # a manager paused it: no new stories reach the channel from it

    def to_json(self) -> str:
        data = asdict(self)
        data["channel"] = str(self.channel)
        if not self.paused:
            del data["paused"]  # as before pausing existed, so older readers agree
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Subscription:
        data: dict[str, Any] = json.loads(text)
        data["channel"] = ChannelRef.parse(data["channel"])
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def check_mode(mode: str) -> Mode:
    if mode not in MODES:
        raise ChannelError(f"unknown mode {mode!r}; use digest or instant")
    return mode  # type: ignore[return-value]


def check_filter(text: str) -> str:
    """The filter text if it parses (empty means no filter); ChannelError saying why if not."""
    text = text.strip()
    if text:
        try:
            parse_query(text)
        except QueryError as exc:
            raise ChannelError(f"filter: {exc}") from exc
    return text


def filter_fields(*, title: str, source: str, author: str, summary: str) -> dict[str, str]:
    """What a subscription's filter looks at: one copy's title, source, author and summary
    (the lead of its feed text, or of the page when the feed is thin). Each stored copy
    keeps all four, so `filter … test` judges a stored story exactly as routing judged it
    when it arrived."""
    return {"title": title, "source": source, "author": author, "text": summary}
