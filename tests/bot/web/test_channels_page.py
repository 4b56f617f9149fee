"""The Channels page: each channel's subscriptions and settings, its next digest, and
what is stuck (held, dead-lettered), escaped."""

from __future__ import annotations

import re
import time

from bot.settings import Settings
from bot.store.connection import RedisHandle
from bot.store.holds import HoldStore
from bot.store.subscriptions import SubscriptionStore
from bot.store.ui_auth import OPERATOR, Scope, UiAuth
from bot.store.watchlist import Watchlist
from handlers.channels import ChannelRef
from tests.bot.platforms.outbox_helpers import hold
from tests.bot.web.conftest import browser, serving

NEWS = ChannelRef("slack", "T1", "CNEWS")
QUIET = ChannelRef("discord", "800", "810")


async def test_the_operator_sees_every_channels_settings_and_what_is_stuck(
    settings: Settings, handle: RedisHandle
) -> None:
    now = time.time()
    watchlist = Watchlist(handle.client, handle.keys)
    store = SubscriptionStore(handle.client, handle.keys)
    wire, _ = await watchlist.add("https://wire.example.com/feed", now=now, title="Wire")
    intranet, _ = await watchlist.add("https://in.example.com/feed?key=s3cret", now=now)
    await store.subscribe(NEWS, wire.id, now=now, mode="instant", filter="harbour -<b>sport</b>")
    await store.subscribe(NEWS, intranet.id, now=now, priority=2)
    await store.set_channel(NEWS, schedule="weekdays 08:30", quiet_message="<i>Nothing</i> today")
    await store.set_options(NEWS, {"style": "compact", "breaking": "3 30", "rank": "coverage"})
    await store.set_visibility(NEWS, public=True)
    await store.subscribe(QUIET, wire.id, now=now)
    await handle.client.zadd(handle.keys.digests_due, {str(NEWS): now + 3600})
    await hold(handle, str(QUIET), reason="Missing Permissions: Send Messages")
    await HoldStore(handle.client, handle.keys, ttl=86400).dead_letter(
        {"delivery": "d1", "channel": str(NEWS), "kind": "story", "story": "s1"},
        reason="invalid_blocks <x>",
        attempts=3,
        now=now,
    )
    auth = UiAuth(handle.client, handle.keys)
    async with serving(settings, handle) as base, browser() as session:
        await session.post(f"{base}/ui/login", data={"t": await auth.issue(OPERATOR)})
        async with session.get(f"{base}/ui/channels") as page:
            assert page.status == 200
            html = await page.text()
        await session.post(
            f"{base}/ui/logout", data={"csrf": re.findall(r'name="csrf" value="([^"]+)"', html)[0]}
        )
        member = await auth.issue(Scope("slack", "T1", "U1"))
        await session.post(f"{base}/ui/login", data={"t": member})
        async with session.get(f"{base}/ui/channels") as refused:
            assert refused.status == 403
    sections = {
        part[part.index('id="') + 4 : part.index('">')]: part
        for part in html.split('<section class="channel">')[1:]
    }
    news = sections[str(NEWS)]
    assert "(public)" in news and "weekdays 08:30" in news and "next digest" in news
    assert "compact" in news and "3 outlets within 30 minutes" in news and "coverage" in news
    assert "&lt;i&gt;Nothing&lt;/i&gt; today" in news and "<i>" not in news
    assert "harbour -&lt;b&gt;sport&lt;/b&gt;" in news and "instant" in news
    assert "s3cret" not in html and "Wire" in news
    assert "invalid_blocks &lt;x&gt;" in news and "3 attempts" in news
    quiet = sections[str(QUIET)]
    assert "Held: Missing Permissions: Send Messages" in quiet and "(unknown)" in quiet
