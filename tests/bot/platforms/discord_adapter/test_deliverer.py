"""Discord deliveries through the real discord.py client (REST only) and the outbox, against
a fake Discord that checks every message against the spec and Discord's limits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest

from bot.platforms.discord_adapter.connection import log_in, rest_client
from bot.platforms.discord_adapter.deliverer import DiscordDeliverer, dm_channel, nonce
from bot.platforms.discord_adapter.permissions import effective
from bot.settings import Settings
from bot.store.alerts import AlertStore, Match
from bot.store.connection import RedisHandle
from bot.store.holds import HoldStore
from bot.store.subscriptions import SubscriptionStore
from handlers.channels import ChannelRef
from tests.bot.platforms.discord_adapter.conftest import discord_settings
from tests.bot.platforms.outbox_helpers import consumer, follow, queue, stories
from tests.fakes.discord_api import (
    ADMIN,
    CHANNEL,
    EMBED_LINKS,
    GUILD,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    FakeDiscord,
)

WHERE = f"discord:{GUILD}:{CHANNEL}"
OTHER = 810000000000000002


@pytest.fixture
async def rest(
    discord_api: FakeDiscord, settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[discord.Client, Settings]]:
    configured = discord_settings(settings, tmp_path, discord_api)
    async with rest_client(configured) as client:
        yield client, configured


@pytest.fixture
def deliverer(rest: tuple[discord.Client, Settings], handle: RedisHandle) -> DiscordDeliverer:
    client, configured = rest
    return DiscordDeliverer(
        rest=client,
        login=lambda: log_in(client, configured),
        client=handle.client,
        keys=handle.keys,
    )


async def test_a_digest_goes_out_as_embeds_with_a_nonce_and_no_mentions(
    discord_api: FakeDiscord, deliverer: DiscordDeliverer, handle: RedisHandle
) -> None:
    ids = await stories(handle, ["Harbour bridge reopens", "Comet visible tonight"])
    await queue(
        handle, WHERE, "d1", kind="digest", heading="News digest", stories=json.dumps(ids), more="3"
    )
    assert await consumer(handle, deliverer).drain() == 1
    [post] = discord_api.posts(CHANNEL)
    assert [e["title"] for e in post["embeds"]] == [
        "Harbour bridge reopens",
        "Comet visible tonight",
    ]
    assert "News digest" in post["content"] and "3 more" in post["content"]
    assert post["allowed_mentions"] == {"parse": []}
    assert post["nonce"] == nonce("d1", 0) and len(post["nonce"]) <= 25
    assert post["enforce_nonce"] is True


async def test_a_feed_title_cannot_mention_anyone(
    discord_api: FakeDiscord, deliverer: DiscordDeliverer, handle: RedisHandle
) -> None:
    [story] = await stories(handle, ["@everyone <@&123> **x**"])
    await queue(handle, WHERE, "s1", kind="story", story=story)
    assert await consumer(handle, deliverer).drain() == 1
    [post] = discord_api.posts(CHANNEL)
    title = post["embeds"][0]["title"]
    assert "@everyone" not in title and "<@&123>" not in title, title
    assert "\\*\\*x\\*\\*" in title, "Markdown shown as typed, not bold"
    assert post["allowed_mentions"] == {"parse": []}


async def test_a_retried_send_is_not_posted_twice(
    discord_api: FakeDiscord, deliverer: DiscordDeliverer, handle: RedisHandle
) -> None:
    # As after a timeout once Discord had accepted: the delivery's record was never written,
    # so the same delivery is sent again, with the same nonce.
    await queue(handle, WHERE, "q1", kind="quiet", text="hello")
    assert await consumer(handle, deliverer).drain() == 1
    await handle.client.flushdb()
    await queue(handle, WHERE, "q1", kind="quiet", text="hello")
    assert await consumer(handle, deliverer).drain() == 1
    assert [p["content"] for p in discord_api.posts(CHANNEL)] == ["hello"]


async def test_a_429_loses_nothing_and_doubles_nothing(
    discord_api: FakeDiscord, deliverer: DiscordDeliverer, handle: RedisHandle
) -> None:
    # Without Via (a Cloudflare-style 429) discord.py raises at once: the outbox holds the
    # channel for Retry-After. With Via, discord.py waits and retries by itself.
    discord_api.rate_limits, discord_api.rate_limit_via = 2, False
    for n in range(3):
        await queue(handle, WHERE, f"q{n}", kind="quiet", text=f"message {n}")
    outbox = consumer(handle, deliverer)
    stop = asyncio.Event()
    task = asyncio.create_task(outbox.run(stop))
    await discord_api.wait_posts(3, CHANNEL)
    discord_api.rate_limits, discord_api.rate_limit_via = 1, True
    await queue(handle, WHERE, "q3", kind="quiet", text="message 3")
    await discord_api.wait_posts(4, CHANNEL)
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert [p["content"] for p in discord_api.posts(CHANNEL)] == [f"message {n}" for n in range(4)]
    assert await handle.client.xlen(handle.keys.outbox("discord")) == 0


async def held(handle: RedisHandle, channel: str) -> str | None:
    """Why the channel is held, or None."""
    hold = (await HoldStore(handle.client, handle.keys, ttl=60).holds([channel])).get(channel)
    return hold.reason if hold else None


async def test_a_server_error_is_retried(
    discord_api: FakeDiscord, deliverer: DiscordDeliverer, handle: RedisHandle
) -> None:
    discord_api.server_errors = 1
    await queue(handle, WHERE, "q1", kind="quiet", text="hello")
    outbox = consumer(handle, deliverer)
    assert await outbox.drain() == 0
    assert await held(handle, WHERE) is None, "a 5xx is not the channel's fault"
    await handle.client.delete(handle.keys.pace(WHERE))
    assert await outbox.drain() == 1
    assert [p["content"] for p in discord_api.posts(CHANNEL)] == ["hello"]


async def test_a_missing_permission_is_named_and_the_subscriber_told_once(
    discord_api: FakeDiscord, deliverer: DiscordDeliverer, handle: RedisHandle
) -> None:
    await SubscriptionStore(handle.client, handle.keys).subscribe(
        ChannelRef.parse(WHERE), "f1", now=1, added_by=str(ADMIN)
    )
    discord_api.denied[CHANNEL] = EMBED_LINKS
    [story] = await stories(handle, ["Harbour bridge reopens"])
    for n in range(2):
        await queue(handle, WHERE, f"s{n}", kind="story", story=story)
    assert await consumer(handle, deliverer).drain() == 2
    failed = await held(handle, WHERE)
    assert failed is not None
    assert "Missing Permissions" in failed and "Embed Links" in failed
    assert "Send Messages" not in failed
    [dm] = discord_api.dms(ADMIN)
    assert "Embed Links" in dm["content"] and f"<#{CHANNEL}>" in dm["content"]
    assert "held" in dm["content"]
    assert discord_api.posts(CHANNEL) == []


async def test_an_archived_thread_holds_and_an_invalid_body_goes_as_plain_text(
    discord_api: FakeDiscord, deliverer: DiscordDeliverer, handle: RedisHandle
) -> None:
    discord_api.channels[OTHER] = GUILD
    discord_api.archived.add(OTHER)
    discord_api.refuse_embeds.add(CHANNEL)
    thread = f"discord:{GUILD}:{OTHER}"
    [story] = await stories(handle, ["Harbour bridge reopens"])
    await queue(handle, thread, "t1", kind="quiet", text="hello")
    await queue(handle, WHERE, "s1", kind="story", story=story)
    await queue(handle, WHERE, "q1", kind="quiet", text="after")
    assert await consumer(handle, deliverer).drain() == 3
    failed = await held(handle, thread)
    assert failed is not None and "50083" in failed
    plain, after = discord_api.posts(CHANNEL)
    assert not plain.get("embeds") and "Harbour bridge reopens" in plain["content"]
    assert after["content"] == "after"


async def test_a_channel_the_bot_cannot_see_or_that_is_gone_is_held_with_the_reason(
    discord_api: FakeDiscord, deliverer: DiscordDeliverer, handle: RedisHandle
) -> None:
    discord_api.channels[OTHER] = GUILD
    discord_api.denied[OTHER] = VIEW_CHANNEL
    hidden = f"discord:{GUILD}:{OTHER}"
    gone = f"discord:{GUILD}:810000000000000099"
    await queue(handle, hidden, "q1", kind="quiet", text="hello")
    await queue(handle, gone, "q2", kind="quiet", text="hello")
    await queue(handle, WHERE, "q3", kind="quiet", text="hello")
    assert await consumer(handle, deliverer).drain() == 3
    assert "View Channel" in str(await held(handle, hidden))
    assert "Unknown Channel" in str(await held(handle, gone))
    assert len(discord_api.posts(CHANNEL)) == 1, "other channels go on"


async def test_a_member_with_closed_dms_is_recorded_and_the_dm_dropped(
    discord_api: FakeDiscord, deliverer: DiscordDeliverer, handle: RedisHandle
) -> None:
    discord_api.closed_dms.add(ADMIN)
    await queue(handle, str(dm_channel(str(ADMIN))), "a1", kind="notice", text="an alert")
    assert await consumer(handle, deliverer).drain() == 1
    assert await handle.client.hexists(handle.keys.dm_closed("discord"), str(ADMIN))
    assert discord_api.dms(ADMIN) == []
    open_member = 700000000000000009
    await queue(handle, str(dm_channel(str(open_member))), "a2", kind="notice", text="hi")
    assert await consumer(handle, deliverer).drain() == 1
    assert [p["content"] for p in discord_api.dms(open_member)] == ["hi"]


async def test_a_refused_token_holds_everything_until_it_works(
    discord_api: FakeDiscord, deliverer: DiscordDeliverer, handle: RedisHandle
) -> None:
    discord_api.revoked = True
    await queue(handle, WHERE, "q1", kind="quiet", text="waiting")
    outbox = consumer(handle, deliverer)
    assert await outbox.drain() == 0
    assert not deliverer.token_works()
    assert await outbox.drain() == 0
    discord_api.revoked = False
    deliverer._token_checked = -1000.0  # a minute later
    await handle.client.delete(handle.keys.pace(WHERE))
    assert await outbox.drain() == 1
    assert deliverer.token_works()
    assert [p["content"] for p in discord_api.posts(CHANNEL)] == ["waiting"]


def test_permissions_follow_discords_overwrite_order() -> None:
    everyone = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS
    role, bot = 5, 9

    def compute(overwrites: list[dict[str, str | int]], roles: set[int] | None = None) -> int:
        return effective(
            guild_id=GUILD,
            owner_id=1,
            member_id=bot,
            member_roles=roles if roles is not None else {role},
            role_permissions={GUILD: everyone, role: 0},
            overwrites=overwrites,
        )

    assert compute([]) == everyone
    deny_embeds = {"id": GUILD, "allow": 0, "deny": EMBED_LINKS}
    assert compute([deny_embeds]) == VIEW_CHANNEL | SEND_MESSAGES
    allow_for_role = {"id": role, "allow": EMBED_LINKS, "deny": 0}
    assert compute([deny_embeds, allow_for_role]) == everyone, "a role overwrite wins"
    deny_for_bot = {"id": bot, "allow": 0, "deny": SEND_MESSAGES}
    assert compute([allow_for_role, deny_for_bot]) == VIEW_CHANNEL | EMBED_LINKS


async def test_an_alert_dm_highlights_in_bold_and_a_closed_dm_pauses_alerts(
    discord_api: FakeDiscord, deliverer: DiscordDeliverer, handle: RedisHandle
) -> None:
    store = AlertStore(handle.client, handle.keys)
    member = 700000000000000009
    made = await store.add(
        origin=ChannelRef.parse(WHERE),
        user=str(member),
        query="storm",
        channel=None,
        limit=25,
        now=1,
    )
    story, other = await stories(handle, ["@everyone Storm hits the coast", "Storm passes by"])
    await follow(handle, WHERE)  # a public channel: the alert may see its feed
    await store.queue(made, Match(made.id, story, ("storm",)), now=1000.0)
    assert await consumer(handle, deliverer).drain() == 1
    [dm] = discord_api.dms(member)
    embed = dm["embeds"][0]
    assert "**storm**" in embed["description"].lower() and "alert a1" in embed["footer"]["text"]
    assert "@everyone" not in json.dumps(dm) and dm["allowed_mentions"] == {"parse": []}
    # Now the member closes their DMs.
    discord_api.closed_dms.add(member)
    await store.queue(made, Match(made.id, other, ("storm",)), now=5000.0)
    assert await consumer(handle, deliverer).drain() == 1
    assert await store.pause_state("discord", str(member), 0) == "closed"
    [note] = discord_api.posts(CHANNEL)
    assert f"<@{member}>" in note["content"] and "/news alert resume" in note["content"]
    assert note["allowed_mentions"] == {"parse": []}, "named, not pinged: no feed text here"
