"""The actions on a posted story (`handlers.story_actions`): Summary, Coverage, 👍 / 👎, Mute.

An adapter acknowledges the click first, then asks `StoryActions.run` for the answer, which
goes to the person who clicked alone (ephemeral). The story is judged as the channel the
click came from may see it (`handlers.visibility`): a story with no copy visible there gets
"not available here", whatever the control's value says, and Coverage lists visible
copies only.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from redis.asyncio import Redis

from bot.commands.article_summary import summarize_document
from bot.commands.caller import Caller
from bot.errors import NewsbotError
from bot.net.fetch import Fetcher
from bot.net.pages import PAGE_ACCEPT
from bot.render.text_limits import when
from bot.store.audience import AudienceStore
from bot.store.keys import Keys
from bot.store.stories import load_stories
from bot.store.story_marks import StoryMarks
from handlers.feedback import feedback_keys
from handlers.reply import Reply, refusal
from handlers.story import DigestItem, Story, StoryCopy
from handlers.story_actions import MANAGERS_ONLY, StoryAction
from handlers.summarize import Abstractive, Budget
from handlers.visibility import Audience, project, visible_copies

log = logging.getLogger(__name__)

LONG_SUMMARY = Budget(sentences=5, chars=1500)
COVERAGE_MAX = 30  # copies listed; more are counted
MANAGERS_ONLY_TEXT = "managers only: ask a channel manager to mute a story here"


class StoryActions:
    """Answers the actions on a story, for the channel they were taken in."""

    def __init__(
        self,
        *,
        client: Redis,
        keys: Keys,
        fetcher: Fetcher,
        audiences: AudienceStore,
        marks: StoryMarks,
        abstractive: Abstractive | None = None,
    ) -> None:
        self._client = client
        self._keys = keys
        self._fetcher = fetcher
        self._audiences = audiences
        self._marks = marks
        self._abstractive = abstractive

    async def _visible(self, caller: Caller, story_id: str) -> tuple[Story, Audience] | str:
        """The story and the channel's audience; why not, when the channel cannot see it."""
        stories = await load_stories(self._client, self._keys, [story_id]) if story_id else []
        if not stories:
            return "that story is no longer stored (it is older than the retention)"
        audience = await self._audiences.for_channel(caller.channel)
        if not any(audience.sees(c) for c in stories[0].copies):
            return "that story is not available in this channel"
        return stories[0], audience

    async def show(self, caller: Caller, story_id: str) -> Reply:
        """The story, as the channel may see it, to act on."""
        found = await self._visible(caller, story_id)
        if isinstance(found, str):
            return refusal(found)
        item = project(found[0], found[1], own_primary=False)
        return Reply("What would you like to do with this story?", (item,) if item else ())

    async def run(self, caller: Caller, action: StoryAction, *, manager: bool) -> Reply:
        if action.action in MANAGERS_ONLY and not manager:
            return refusal(MANAGERS_ONLY_TEXT)
        found = await self._visible(caller, action.story_id)
        if isinstance(found, str):
            return refusal(found)
        story, audience = found
        item = project(story, audience, own_primary=False)
        if item is None:
            return refusal("that story is not available in this channel")
        if action.action == "summary":
            return await self.summary(item)
        if action.action == "coverage":
            return coverage_reply(item, visible_copies(story, audience))
        if action.action in {"up", "down"}:
            up = action.action == "up"
            counted = await self._marks.vote(
                caller.channel, item.story_id, caller.user, up=up, counts_for=feedback_keys(item)
            )
            if not counted:
                return Reply("You already gave feedback on this story here; it counts once.")
            mark = "👍" if up else "👎"
            return Reply(
                f"Thanks: {mark} noted for this channel. It weighs {item.source} and stories "
                "like this one in the channel's digests (/news rank)."
            )
        if await self._marks.mute(caller.channel, item.story_id):
            return Reply(
                f"Muted “{item.title}” in this channel: no breaking post, no place in a later "
                "digest and no channel alert here."
            )
        return Reply("That story is muted in this channel already.")

    async def summary(self, item: DigestItem) -> Reply:
        """A longer summary of the story's page (5 sentences, or the LLM's when one is set
        up); the stored one, said so, when the page cannot be read."""
        if urlsplit(item.url).scheme.lower() in {"http", "https"}:
            try:
                result = await self._fetcher.fetch(item.url, accept=PAGE_ACCEPT)
                summary = await summarize_document(
                    result.body,
                    source=item.url,
                    url=result.url,
                    budget=LONG_SUMMARY,
                    abstractive=self._abstractive,
                )
                return Reply(f"{item.title}\n{summary.summary}\n({item.source} · {item.url})")
            except NewsbotError as exc:
                log.info("a story's page could not be summarised", extra={"error": str(exc)})
                note = f"(the page could not be read: {exc}; this is the stored summary)"
        else:
            note = "(the story has no web page; this is the stored summary)"
        stored = item.summary or "no summary is stored for this story"
        return Reply(f"{item.title}\n{stored}\n{note}")


def coverage_reply(item: DigestItem, copies: list[StoryCopy]) -> Reply:
    """The copies the channel may see, with outlet, time and link, newest first."""
    outlets = item.outlets
    lines = [f"Coverage of “{item.title}”: {outlets} outlet{'s' if outlets != 1 else ''}"]
    for copy in copies[:COVERAGE_MAX]:
        lines.append(f"• {copy.source} · {when(copy.published or copy.seen)} · {copy.url}")
    if len(copies) > COVERAGE_MAX:
        lines.append(f"…and {len(copies) - COVERAGE_MAX} more copies")
    return Reply("\n".join(lines))
