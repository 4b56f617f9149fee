"""A channel manager's pages: only the channels their platform says they manage now, a
private one only while they are a member, and nothing of another workspace by URL."""

from __future__ import annotations

import re
import time
from pathlib import Path

from slack_sdk.web.async_client import AsyncWebClient

from bot.platforms.discord_adapter.connection import rest_client
from bot.platforms.discord_adapter.page_access import DiscordPageAccess
from bot.platforms.slack_adapter.commands import Admins
from bot.platforms.slack_adapter.page_access import SlackPageAccess
from bot.platforms.slack_adapter.web_api import SlackApis, SlackMembers
from bot.settings import Settings
from bot.store.connection import RedisHandle
from bot.store.holds import HoldStore
from bot.store.subscriptions import SubscriptionStore
from bot.store.ui_auth import Scope
from bot.store.watchlist import Watchlist
from handlers.channels import ChannelRef
from tests.bot.platforms.discord_adapter.conftest import (  # noqa: F401 (the fixture)
    discord_api,
    discord_settings,
    running,
)
from tests.bot.test_app import free_port
from tests.bot.web.conftest import browser, serving, sign_in
from tests.fakes.discord_api import (
    ADMIN,
    BOT_ID,
    CHANNEL,
    GUILD,
    MEMBER,
    VIEW_CHANNEL,
    FakeDiscord,
)
from tests.fakes.slack_api import FakeSlack

PUBLIC = ChannelRef("slack", "T1", "CPUB")
MINE = ChannelRef("slack", "T1", "CMINE")  # private, the admin is a member
THEIRS = ChannelRef("slack", "T1", "CTHEIRS")  # private, the admin is not
FAR = ChannelRef("slack", "T2", "CFAR")  # another workspace


def section_ids(html: str) -> list[str]:
    return re.findall(r'<h2 id="([^"]+)">', html)


async def test_a_slack_admin_sees_their_workspaces_channels_a_private_one_while_a_member(
    settings: Settings, handle: RedisHandle
) -> None:
    slack = FakeSlack(admins={"UADMIN"}, members={"CMINE": ["UADMIN"], "CTHEIRS": ["UX"]})
    await slack.start()
    now = time.time()
    store, watchlist = (
        SubscriptionStore(handle.client, handle.keys),
        Watchlist(handle.client, handle.keys),
    )
    for number, channel in enumerate((PUBLIC, MINE, THEIRS, FAR)):
        record, _ = await watchlist.add(f"https://f{number}.example.com/feed", now=now)
        await store.subscribe(channel, record.id, now=now)
        await store.set_visibility(channel, public=channel == PUBLIC)
    await HoldStore(handle.client, handle.keys, ttl=86400).dead_letter(
        {"delivery": "d1", "channel": str(FAR), "kind": "story", "story": "s"},
        reason="x",
        attempts=3,
        now=now,
    )
    apis = SlackApis.of_client(AsyncWebClient(token=slack.token, base_url=slack.api_url))
    access = SlackPageAccess(
        admins=Admins(apis),
        members=SlackMembers(apis),
        managers=frozenset(),
        client=handle.client,
        keys=handle.keys,
    )
    try:
        async with serving(settings, handle, access={"slack": access}) as base:
            async with browser() as admin:
                await sign_in(admin, base, handle, Scope("slack", "T1", "UADMIN"))
                async with admin.get(f"{base}/ui/channels") as page:
                    html = await page.text()
                    csrf = re.findall(r'name="csrf" value="([^"]+)"', html)[0]
                assert section_ids(html) == [str(MINE), str(PUBLIC)]
                async with admin.get(f"{base}/ui/feeds") as feeds:
                    listed = await feeds.text()
                assert "f0.example.com" in listed and "f1.example.com" in listed
                assert "f2.example.com" not in listed and "f3.example.com" not in listed
                far = f"{base}/ui/stories?channel={FAR}"
                async with admin.get(far) as stories:
                    assert "not one of the channels you manage" in await stories.text()
                form = {"csrf": csrf, "channel": str(FAR), "id": "0-1", "action": "drop"}
                async with admin.post(f"{base}/ui/dead-letter", data=form) as dropped:
                    assert dropped.status == 404, "another workspace's, by URL: not found"
                async with admin.get(f"{base}/ui/health") as health:
                    shown = await health.text()
                assert "0 dead letters" in shown and "Redis memory" not in shown
            async with browser() as member:
                await sign_in(member, base, handle, Scope("slack", "T1", "UMEMBER"))
                async with member.get(f"{base}/ui/channels") as page:
                    assert section_ids(await page.text()) == [], "not an admin: none"
        assert (
            len(await HoldStore(handle.client, handle.keys, ttl=86400).dead_letters("slack")) == 1
        )
    finally:
        await slack.stop()


async def test_a_discord_member_sees_the_channels_where_they_may_manage_and_view(
    settings: Settings,
    tmp_path: Path,
    handle: RedisHandle,
    discord_api: FakeDiscord,  # noqa: F811
) -> None:
    hidden, closed = 810000000000000005, 810000000000000006
    for channel in (hidden, closed):
        discord_api.channels[channel] = GUILD
        discord_api.denied[channel] = VIEW_CHANNEL
    discord_api.viewers[hidden] = {MEMBER, BOT_ID}
    discord_api.viewers[closed] = {BOT_ID}
    store = SubscriptionStore(handle.client, handle.keys)
    refs = [ChannelRef("discord", str(GUILD), str(c)) for c in (CHANNEL, hidden, closed)]
    for ref in refs:
        await store.subscribe(ref, "f1", now=1)
    configured = discord_settings(settings, tmp_path, discord_api)
    async with rest_client(configured) as client:
        named = DiscordPageAccess(client, managers=frozenset({str(MEMBER)}))
        owner_only = DiscordPageAccess(client, managers=frozenset())
        assert await named(Scope("discord", str(GUILD), str(MEMBER)), [str(r) for r in refs]) == {
            str(refs[0]),
            str(refs[1]),
        }, "named a manager: the channels they can view"
        assert (
            await owner_only(Scope("discord", str(GUILD), str(MEMBER)), [str(r) for r in refs])
            == set()
        )
        everything = await owner_only(
            Scope("discord", str(GUILD), str(ADMIN)), [str(r) for r in refs]
        )
        assert everything == {str(r) for r in refs}, "the owner manages every channel"
        async with serving(settings, handle, access={"discord": named}) as base, browser() as page:
            await sign_in(page, base, handle, Scope("discord", str(GUILD), str(MEMBER)))
            async with page.get(f"{base}/ui/channels") as answer:
                assert section_ids(await answer.text()) == sorted([str(refs[0]), str(refs[1])])


async def test_a_process_without_the_chat_role_still_asks_discord_who_manages(
    settings: Settings,
    tmp_path: Path,
    handle: RedisHandle,
    discord_api: FakeDiscord,  # noqa: F811
) -> None:
    channel = ChannelRef("discord", str(GUILD), str(CHANNEL))
    await SubscriptionStore(handle.client, handle.keys).subscribe(channel, "f1", now=1)
    configured = discord_settings(
        settings, tmp_path, discord_api, NEWSBOT_HTTP_PORT=str(free_port())
    )
    async with running(configured, roles=("poller",)) as bot, browser() as page:
        base = f"http://127.0.0.1:{bot.http_port}"
        await sign_in(page, base, handle, Scope("discord", str(GUILD), str(ADMIN)))
        async with page.get(f"{base}/ui/channels") as answer:
            assert section_ids(await answer.text()) == [str(channel)], "the owner's channel"
