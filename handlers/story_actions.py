"""The actions a reader can take on a posted story, and how a post names them.

Every story newsbot posts carries its actions (Slack: an overflow menu on the story's
section; Discord: buttons under an instant post, a "Pick a story…" select under a digest
message). Each action is named by one short value, ``nb:<action>:<story id>``, well within
Slack's 150 characters of an option value and Discord's 100 of a ``custom_id``. The value
says which story; which channel and who pressed come from the platform's payload, never
from the value, so a forged value can only name a story, and the core checks the story is
visible in the channel it was pressed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The actions, in the order every menu shows them, with their labels.
ACTIONS: dict[str, str] = {
    "summary": "Summary",
    "coverage": "Coverage",
    "up": "👍",
    "down": "👎",
    "mute": "Mute story",
}
MANAGERS_ONLY = frozenset({"mute"})
PREFIX = "nb"
PICK = f"{PREFIX}:pick"  # Discord's select under a digest message: its values are story ids
_VALUE = re.compile(rf"^{PREFIX}:([a-z]+):([0-9a-f]{{1,64}})$")
_STORY = re.compile(r"^[0-9a-f]{1,64}$")


@dataclass(frozen=True)
class StoryAction:
    """One action on one story, as a post's control named it."""

    action: str
    story_id: str

    @property
    def value(self) -> str:
        return f"{PREFIX}:{self.action}:{self.story_id}"


def action_value(action: str, story_id: str) -> str:
    return StoryAction(action, story_id).value


def parse_action(value: str) -> StoryAction | None:
    """The action a control's value names; None for anything newsbot did not make."""
    found = _VALUE.match(value.strip())
    if found is None or found[1] not in ACTIONS:
        return None
    return StoryAction(found[1], found[2])


def is_story_id(value: str) -> bool:
    return bool(_STORY.match(value))
