"""Visibility: which copies of a story an audience may see, and the story as it sees them.

Every output has an audience: a channel (posts, digests, `latest`, `search`, `feeds`,
`filter … test`), a member (alert DMs), or the operator (`newsbot digest`, the console's
`newsbot feeds`). A channel of a workspace or guild sees copies from

- the feeds it follows;
- feeds that public channels of the same workspace or guild follow (any member can join
  those);
- feeds that no channel follows and the operator watches (the coverage set).

A feed a private channel follows is visible elsewhere only when a public channel of the
same workspace follows it too; other workspaces' subscriptions never are. An alert sees the
set of its own channel (a private one only while its owner is a member). The store works
the sets out (`bot.store.audience`); this module applies them, and `project` is the only
way from a stored `Story` to the `DigestItem` every renderer takes:

- the primary copy (title, link, source, summary) is the earliest visible copy, and for a
  post in a channel the earliest copy from the channel's own feeds;
- "also" and the outlet count hold visible copies only;
- each copy is shown from what it stored itself: its own title, link, source, time and
  extractive summary, never another copy's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from handlers.safe_text import link_text, neutral
from handlers.story import DigestItem, Story, StoryCopy, copy_order


@dataclass(frozen=True)
class Audience:
    """Who an output is for, as feed ids: `own`, the feeds of the channel it goes to
    (empty for a member's alert or a search hit's primary), and `visible`, every feed whose
    copies it may see (`own` included). `everything` is the operator's view."""

    own: frozenset[str] = frozenset()
    visible: frozenset[str] = frozenset()
    everything: bool = False

    def sees(self, copy: StoryCopy) -> bool:
        return self.sees_feed(copy.feed_id)

    def sees_feed(self, feed_id: str) -> bool:
        return self.everything or feed_id in self.visible


EVERYTHING = Audience(everything=True)


def _shown(copy: StoryCopy) -> StoryCopy:
    """A copy as every renderer shows it: no control, bidi or zero-width characters in its
    title and source, and a title or source (the outlet's name, the link text of "also:")
    that looks like an address followed by the link's real host (`handlers.safe_text`)."""
    return replace(
        copy,
        title=link_text(neutral(copy.title), copy.url),
        source=link_text(neutral(copy.source), copy.url),
    )


def project(story: Story, audience: Audience, *, own_primary: bool = True) -> DigestItem | None:
    """`story` as `audience` may see it; None when it has no copy the audience may see (or,
    with `own_primary`, none from the audience's own feeds: a channel's post)."""
    visible = [c for c in story.copies if audience.sees(c)]
    candidates = visible
    if own_primary and not audience.everything:
        candidates = [c for c in visible if c.feed_id in audience.own]
    if not candidates:
        return None
    primary = min(candidates, key=copy_order)
    shown = _shown(primary)
    also = tuple(_shown(c) for c in visible if c is not primary)
    return DigestItem(
        shown.id,
        shown.title,
        shown.url,
        shown.source,
        shown.published,
        neutral(story.summary_of(primary)),
        also,
        story_id=story.id,
        feed_id=primary.feed_id,
    )


def project_all(
    stories: Iterable[Story], audience: Audience, *, own_primary: bool = True
) -> list[DigestItem]:
    """The stories `audience` may see, newest first by their primary copy; undated last."""
    items = [
        item
        for story in stories
        if (item := project(story, audience, own_primary=own_primary)) is not None
    ]
    dated = sorted((i for i in items if i.published), key=lambda i: i.published or 0, reverse=True)
    return dated + [i for i in items if i.published is None]


def visible_copies(story: Story, audience: Audience) -> list[StoryCopy]:
    """Every copy of `story` that `audience` may see, as renderers show copies, newest
    first (by publication, else when newsbot saw it): what Coverage lists."""
    copies = [_shown(c) for c in story.copies if audience.sees(c)]
    return sorted(copies, key=lambda c: (c.published or c.seen).timestamp(), reverse=True)
