"""One outbox message, typed: what every producer queues and every deliverer reads.

A message carries ids, not text: ``story`` (one story id), ``breaking`` (one story id and
its heading, "Breaking · 5 outlets"), ``digest`` (story ids in the
scheduler's ranking, a heading, how many more were left out), ``quiet`` and ``notice`` (a
line of text), or ``alert`` (keyword-alert matches as JSON: alert, story and the words to
highlight). Its delivery id names the channel and what made it
(``{channel}|story|{story}``, ``{channel}|breaking|{story}``, ``{channel}|burst|{hash}``,
``{channel}|digest|{slot}``,
``{channel}|feed-down|…``, ``alert:{alert}:{story}``), and the outbox sends a delivery id
once. On Redis it is a flat map of strings (`fields`, `from_fields`); the two Lua scripts
that queue alerts (``bot.store.alerts``) write the same fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

TEXT_KINDS = frozenset({"quiet", "notice"})


@dataclass(frozen=True)
class OutboxMessage:
    delivery: str
    channel: str
    kind: str
    stories: tuple[str, ...] = ()
    heading: str = ""
    more: int = 0
    text: str = ""
    items: str = ""  # an alert's matches, as JSON

    @classmethod
    def story(cls, channel: str, story_id: str) -> OutboxMessage:
        return cls(f"{channel}|story|{story_id}", channel, "story", (story_id,))

    @classmethod
    def breaking(cls, channel: str, story_id: str, heading: str) -> OutboxMessage:
        delivery = f"{channel}|breaking|{story_id}"
        return cls(delivery, channel, "breaking", (story_id,), heading=heading)

    @classmethod
    def digest(
        cls, delivery: str, channel: str, stories: Sequence[str], *, heading: str, more: int = 0
    ) -> OutboxMessage:
        return cls(delivery, channel, "digest", tuple(stories), heading=heading, more=more)

    @classmethod
    def line(cls, delivery: str, channel: str, kind: str, text: str) -> OutboxMessage:
        """A quiet-day message or a notice: one line of text."""
        return cls(delivery, channel, kind, text=text)

    @property
    def origin(self) -> str:
        """What made it: story, burst, digest, feed-down … (its delivery id's second part)."""
        parts = self.delivery.split("|")
        return parts[1] if len(parts) > 2 else self.kind

    def fields(self) -> dict[str, str]:
        """The flat map of strings a Redis stream entry (or list item) holds."""
        out = {"delivery": self.delivery, "channel": self.channel, "kind": self.kind}
        if self.kind in {"story", "breaking"}:
            out["story"] = self.stories[0] if self.stories else ""
            if self.kind == "breaking":
                out["heading"] = self.heading
        elif self.kind == "digest":
            out |= {
                "heading": self.heading,
                "more": str(self.more),
                "stories": json.dumps(list(self.stories)),
            }
        elif self.kind == "alert":
            out["items"] = self.items
        else:
            out["text"] = self.text
        return out

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> OutboxMessage:
        """Read one back; a field that is missing or unreadable reads as empty."""
        kind = fields.get("kind", "")
        stories: tuple[str, ...] = ()
        if kind in {"story", "breaking"} and fields.get("story"):
            stories = (fields["story"],)
        elif kind == "digest":
            try:
                stories = tuple(str(s) for s in json.loads(fields.get("stories") or "[]"))
            except ValueError:
                stories = ()
        try:
            more = int(fields.get("more") or 0)
        except ValueError:
            more = 0
        return cls(
            delivery=fields.get("delivery", ""),
            channel=fields.get("channel", ""),
            kind=kind,
            stories=stories,
            heading=fields.get("heading", ""),
            more=more,
            text=fields.get("text", ""),
            items=fields.get("items", "[]") if kind == "alert" else "",
        )
