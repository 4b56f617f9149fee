"""What a held channel gets when it works again: its held deliveries, grouped.

A week of a refused channel's deliveries must not arrive one message per story. On
release (`bot.roles.outbox`), the held deliveries are regrouped, in the order each group
first appeared:

- instant stories (single posts and flood-guard bursts) go out one by one when there are
  at most `NEWSBOT_INSTANT_BURST` of them, else as one burst message with every story;
- the scheduled digests become one digest: the newest digest's stories first, then the
  older ones', capped like a digest with "and N more";
- quiet-day messages are dropped when a digest goes out, and kept once otherwise;
- notices and alerts go out as they are, a repeated notice once.

Grouping depends only on the held deliveries, so a release retried after a crash makes the
same delivery ids, and the outbox's record sends none of them twice.
"""

from __future__ import annotations

from collections.abc import Sequence

from handlers.article import short_hash
from handlers.digest import DEFAULT_CAP
from handlers.outbox_message import OutboxMessage

Fields = dict[str, str]


def group_held(held: Sequence[Fields], *, burst: int, cap: int = DEFAULT_CAP) -> list[Fields]:
    """The deliveries to send for these held ones, in order (see the module's text)."""
    if not held:
        return []
    messages = [OutboxMessage.from_fields(fields) for fields in held]
    channel = messages[0].channel
    instant: list[str] = []  # story ids, oldest first
    digests: list[OutboxMessage] = []
    quiet: OutboxMessage | None = None
    notices: set[str] = set()
    out: list[OutboxMessage | str] = []  # a message, or the place of a group
    for message in messages:
        if message.origin in ("story", "burst"):
            if "instant" not in out:
                out.append("instant")
            # A burst lists its stories newest first.
            stories = message.stories
            instant += reversed(stories) if message.origin == "burst" else stories
        elif message.origin == "digest" and message.kind == "digest":
            if "digest" not in out:
                out.append("digest")
            digests.append(message)
        elif message.kind == "quiet":
            quiet = message
            if "quiet" not in out:
                out.append("quiet")
        elif message.kind == "notice":
            if message.text not in notices:
                notices.add(message.text)
                out.append(message)
        else:
            out.append(message)
    result: list[OutboxMessage] = []
    for entry in out:
        if entry == "instant":
            result += _instant(channel, list(dict.fromkeys(instant)), burst)
        elif entry == "digest":
            result.append(_digest(digests, cap))
        elif entry == "quiet":
            if not digests and quiet is not None:
                result.append(quiet)
        elif isinstance(entry, OutboxMessage):
            result.append(entry)
    return [message.fields() for message in result]


def _instant(channel: str, ids: list[str], burst: int) -> list[OutboxMessage]:
    if len(ids) <= burst:
        return [OutboxMessage.story(channel, story) for story in ids]
    delivery = f"{channel}|burst|held-{short_hash(','.join(sorted(ids)))}"
    heading = f"{len(ids)} stories that waited while newsbot could not post here"
    return [OutboxMessage.digest(delivery, channel, list(reversed(ids)), heading=heading)]


def _digest(digests: list[OutboxMessage], cap: int) -> OutboxMessage:
    if len(digests) == 1:
        return digests[0]
    newest_first = list(reversed(digests))
    ids = list(dict.fromkeys(s for d in newest_first for s in d.stories))
    more = sum(d.more for d in digests) + max(len(ids) - cap, 0)
    newest = newest_first[0]
    delivery = f"{newest.channel}|digest|held-{short_hash(','.join(ids))}"
    return OutboxMessage.digest(
        delivery, newest.channel, ids[:cap], heading=newest.heading or "News digest", more=more
    )
