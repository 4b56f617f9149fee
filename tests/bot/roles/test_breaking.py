"""Breaking news through the pipeline: one story spreads across outlets, feed by feed.

The channel follows one feed in digest mode with breaking on at 3 outlets in 60 minutes.
Other feeds carry the same story (the same link): two that a public channel of the same
workspace follows (visible), and one a private channel follows (never visible here).
"""

from __future__ import annotations

import json

from bot.commands.caller import Caller
from bot.commands.core import CommandCore
from bot.store.connection import RedisHandle
from handlers.channels import ChannelRef
from tests.articles import rss
from tests.bot.commands.test_core import process_entries
from tests.fakes.feed_server import FeedServer

HERE = ChannelRef("slack", "T1", "CHERE")
ELSEWHERE = ChannelRef("slack", "T1", "CPUB")
PRIVATE = ChannelRef("slack", "T1", "CPRIV")
ADMIN = Caller(HERE, user="U1", admin=True, public=True)
PUBLIC_ADMIN = Caller(ELSEWHERE, user="U2", admin=True, public=True)
PRIVATE_ADMIN = Caller(PRIVATE, user="U3", admin=True, public=False)
STORY = {"title": "Dam bursts upstream", "link": "https://wire.example/dam", "guid": "dam"}


def outlet(name: str, *, story: bool = True) -> str:
    other = {"title": f"{name} weather", "link": f"https://{name}.example/w", "guid": "w"}
    return rss(name, [STORY, other] if story else [other])


async def breaking_posts(handle: RedisHandle, channel: ChannelRef) -> list[dict[str, str]]:
    entries = await handle.client.xrange(handle.keys.outbox("slack"))
    return [f for _id, f in entries if f["channel"] == str(channel) and f["kind"] == "breaking"]


async def carry(
    core: CommandCore,
    handle: RedisHandle,
    feed_server: FeedServer,
    caller: Caller,
    name: str,
) -> None:
    """A new outlet carries the story: a channel subscribes its feed and it is processed."""
    url = feed_server.add(f"/{name}.xml", outlet(name))
    assert (await core.handle(caller, f"subscribe {url}")).ok
    await process_entries(handle)


async def test_breaking_fires_once_at_the_threshold_and_never_for_an_invisible_copy(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    assert "off" in (await core.handle(ADMIN, "breaking")).text
    assert "on here" in (await core.handle(ADMIN, "breaking on 3 60")).text
    assert "3 outlets within 60 minutes" in (await core.handle(ADMIN, "breaking")).text
    await carry(core, handle, feed_server, ADMIN, "first")
    pending = handle.keys.channel_pending(str(HERE))
    [story_id] = [
        str(s)
        for s in await handle.client.zrange(pending, 0, -1)
        if "dam" in json.dumps(await handle.client.get(handle.keys.story(str(s))))
    ]
    await carry(core, handle, feed_server, PRIVATE_ADMIN, "secret")
    await carry(core, handle, feed_server, PUBLIC_ADMIN, "second")
    assert await breaking_posts(handle, HERE) == [], "2 visible outlets (the private one not)"
    await carry(core, handle, feed_server, PUBLIC_ADMIN, "third")
    [post] = await breaking_posts(handle, HERE)
    assert post["story"] == story_id and post["heading"] == "Breaking · 3 outlets"
    assert await handle.client.zscore(pending, story_id) is None, "left out of the next digest"
    await carry(core, handle, feed_server, PUBLIC_ADMIN, "fourth")
    assert len(await breaking_posts(handle, HERE)) == 1, "once per story per channel"
    assert await breaking_posts(handle, ELSEWHERE) == [], "that channel has breaking off"
    preview = await core.handle(Caller(HERE, user="U9"), "digest")
    assert "Dam" not in " ".join(i.title for i in preview.items)


async def test_a_story_the_channel_already_had_or_muted_never_breaks(
    core: CommandCore, handle: RedisHandle, feed_server: FeedServer
) -> None:
    await core.handle(ADMIN, "breaking on 2 60")
    url = feed_server.add("/first.xml", outlet("first"))
    assert (await core.handle(ADMIN, f"subscribe {url} instant")).ok
    await process_entries(handle)
    await carry(core, handle, feed_server, PUBLIC_ADMIN, "second")
    assert await breaking_posts(handle, HERE) == [], "instant: the channel had it already"

    muted_channel = ChannelRef("slack", "T1", "CMUTE")
    muter = Caller(muted_channel, user="U5", admin=True, public=True)
    await core.handle(muter, "breaking on 2 60")
    lighthouse = {"title": "Lighthouse restored", "link": "https://w.example/2", "guid": "2"}
    other = feed_server.add("/solo.xml", rss("solo", [lighthouse]))
    assert (await core.handle(muter, f"subscribe {other}")).ok
    await process_entries(handle)
    [story_id] = [str(s) for s in await handle.client.zrange(
        handle.keys.channel_pending(str(muted_channel)), 0, -1)]  # fmt: skip
    await core.act(muter, f"nb:mute:{story_id}")
    copy = feed_server.add("/copy.xml", rss("copy", [lighthouse]))
    assert (await core.handle(PUBLIC_ADMIN, f"subscribe {copy}")).ok
    await process_entries(handle)
    assert await breaking_posts(handle, muted_channel) == [], "muted here"
    assert "off" in (await core.handle(muter, "breaking off")).text
    members = await handle.client.smembers(handle.keys.breaking_channels)
    assert str(muted_channel) not in {str(m) for m in members}
