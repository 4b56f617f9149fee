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

import json
from collections.abc import Sequence

from handlers.article import short_hash
from handlers.digest import DEFAULT_CAP

Fields = dict[str, str]


def origin(fields: Fields) -> str:
    """What made a delivery: story, burst, digest, alert, notice … (its id's second part)."""
    parts = fields.get("delivery", "").split("|")
    return parts[1] if len(parts) > 2 else fields.get("kind", "")


def story_ids(fields: Fields) -> list[str]:
    if fields.get("kind") == "story":
        return [fields.get("story", "")]
    if fields.get("kind") == "digest":
        return [str(s) for s in json.loads(fields.get("stories") or "[]")]
    return []


def group_held(held: Sequence[Fields], *, burst: int, cap: int = DEFAULT_CAP) -> list[Fields]:
    """The deliveries to send for these held ones, in order (see the module's text)."""
    if not held:
        return []
    channel = held[0].get("channel", "")
    instant: list[str] = []  # story ids, oldest first
    digests: list[Fields] = []
    quiet: Fields | None = None
    notices: set[str] = set()
    out: list[Fields | str] = []  # fields, or a placeholder for a group
    for fields in held:
        kind = origin(fields)
        if kind in ("story", "burst"):
            if "instant" not in out:
                out.append("instant")
            # A burst lists its stories newest first.
            ids = story_ids(fields)
            instant += reversed(ids) if kind == "burst" else ids
        elif kind == "digest" and fields.get("kind") == "digest":
            if "digest" not in out:
                out.append("digest")
            digests.append(fields)
        elif fields.get("kind") == "quiet":
            quiet = fields
            if "quiet" not in out:
                out.append("quiet")
        elif fields.get("kind") == "notice":
            if fields.get("text", "") not in notices:
                notices.add(fields.get("text", ""))
                out.append(fields)
        else:
            out.append(fields)
    result: list[Fields] = []
    for entry in out:
        if entry == "instant":
            result += _instant(channel, list(dict.fromkeys(instant)), burst)
        elif entry == "digest":
            result.append(_digest(digests, cap))
        elif entry == "quiet":
            if not digests and quiet is not None:
                result.append(quiet)
        elif isinstance(entry, dict):
            result.append(entry)
    return result


def _instant(channel: str, ids: list[str], burst: int) -> list[Fields]:
    if len(ids) <= burst:
        return [
            {
                "delivery": f"{channel}|story|{story}",
                "channel": channel,
                "kind": "story",
                "story": story,
            }
            for story in ids
        ]
    return [
        {
            "delivery": f"{channel}|burst|held-{short_hash(','.join(sorted(ids)))}",
            "channel": channel,
            "kind": "digest",
            "heading": f"{len(ids)} stories that waited while newsbot could not post here",
            "more": "0",
            "stories": json.dumps(list(reversed(ids))),
        }
    ]


def _digest(digests: list[Fields], cap: int) -> Fields:
    if len(digests) == 1:
        return digests[0]
    newest_first = list(reversed(digests))
    ids = list(dict.fromkeys(s for d in newest_first for s in story_ids(d)))
    more = sum(int(d.get("more") or 0) for d in digests) + max(len(ids) - cap, 0)
    newest = newest_first[0]
    return {
        "delivery": f"{newest['channel']}|digest|held-{short_hash(','.join(ids))}",
        "channel": newest["channel"],
        "kind": "digest",
        "heading": newest.get("heading", "News digest"),
        "more": str(more),
        "stories": json.dumps(ids[:cap]),
    }
