"""What an outbox message holds, read back for a platform's deliverer to render.

The outbox carries ids, not text (`handlers.outbox_message`). Every deliverer turns a
message into a platform-neutral `Digest`, `AlertMessage` or plain text line, the same way.

Stories are shown as the message's audience may see them (`handlers.visibility`), judged
now, at render time: a channel's post or digest shows its own feeds' copies first and the
copies visible there, an alert the copies visible to the alert. A message left with no
story its audience may see (say, after an unsubscribe) is not sent: `message_contents`
returns None, and the deliverer acknowledges it and logs why.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from redis.asyncio import Redis

from bot.store.alerts import DM, Alert, Match
from bot.store.audience import AudienceStore
from bot.store.keys import Keys
from bot.store.stories import load_stories
from handlers.alerts import AlertItem, AlertMessage
from handlers.channels import ChannelRef
from handlers.digest import Digest
from handlers.outbox_message import TEXT_KINDS, OutboxMessage
from handlers.safe_text import printable
from handlers.styles import STYLE, TEMPLATE, Style
from handlers.visibility import project, project_all

log = logging.getLogger(__name__)

Contents = Digest | AlertMessage | str


async def message_contents(
    client: Redis,
    keys: Keys,
    message: Mapping[str, str],
    *,
    audiences: AudienceStore,
    story_heading: str = "New story",
) -> Contents | None:
    """The digest (stories, in the message's order), alert matches or text a message
    carries, as its audience may see them; None when nothing in it may be shown."""
    typed = OutboxMessage.from_fields(message)
    if typed.kind in TEXT_KINDS:
        return printable(typed.text)
    if typed.kind == "alert":
        alert = await alert_contents(client, keys, message, audiences=audiences)
        if not alert.items:
            _nothing_visible(message)
            return None
        return alert
    stories = await load_stories(client, keys, list(typed.stories))
    audience = await audiences.for_channel(ChannelRef.parse(typed.channel))
    items = project_all(stories, audience)
    if not items:
        _nothing_visible(message)
        return None
    style = await channel_style(client, keys, typed.channel)
    now = datetime.now(UTC)
    if typed.kind == "breaking":
        return Digest(typed.heading or "Breaking", tuple(items), now, style=style)
    if typed.kind != "digest":
        return Digest(story_heading, tuple(items), now, style=style)
    # Keep the scheduler's ranking: project_all sorts by time.
    rank = {story_id: n for n, story_id in enumerate(typed.stories)}
    items.sort(key=lambda item: rank.get(item.story_id, 0))
    heading = typed.heading or "News digest"
    return Digest(heading, tuple(items), now, more=typed.more, style=style)


async def channel_style(client: Redis, keys: Keys, channel: str) -> Style:
    """How the channel's stories look (`/news style`, or ``style`` in newsbot.toml)."""
    style, template = await client.hmget(keys.channel(channel), [STYLE, TEMPLATE])
    return Style.of({STYLE: str(style or ""), TEMPLATE: str(template or "")})


def _nothing_visible(message: Mapping[str, str]) -> None:
    log.info(
        "a delivery has nothing its audience may see any more; not sent",
        extra={"delivery": message.get("delivery", ""), "channel": message.get("channel", "")},
    )


async def alert_contents(
    client: Redis, keys: Keys, message: Mapping[str, str], *, audiences: AudienceStore
) -> AlertMessage:
    """The stories of an alert message, with the alert that fired and the words it found,
    each as that alert may see it (its primary copy the earliest visible one)."""
    matches = [Match.from_dict(m) for m in json.loads(message.get("items", "[]"))]
    stories = {
        s.id: s
        for s in await load_stories(client, keys, list(dict.fromkeys(m.story_id for m in matches)))
    }
    ids = sorted({m.alert_id for m in matches})
    raws = await client.hmget(keys.alerts, ids) if ids else []
    alerts = [Alert.from_json(str(raw)) for raw in raws if raw]
    seen_by = await audiences.for_alerts(alerts)
    queries = {a.id: a.query for a in alerts}
    shown = []
    for m in matches:
        story, audience = stories.get(m.story_id), seen_by.get(m.alert_id)
        item = project(story, audience, own_primary=False) if story and audience else None
        if item is not None:
            shown.append(AlertItem(item, m.alert_id, queries[m.alert_id], frozenset(m.words)))
    personal = ChannelRef.parse(message["channel"]).workspace == DM
    return AlertMessage(tuple(shown), personal=personal)
