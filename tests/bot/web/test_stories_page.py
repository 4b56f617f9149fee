"""The Stories page: a channel's latest stories and search, each with the copies that
channel may see, never a private channel's copy elsewhere."""

from __future__ import annotations

import re
from urllib.parse import quote

from bot.commands.core import CommandCore
from bot.settings import Settings
from bot.store.connection import RedisHandle
from bot.store.ui_auth import OPERATOR
from tests.bot.commands.test_story_actions import PRIVATE, PUBLIC, shared_stories
from tests.bot.web.conftest import browser, serving, sign_in
from tests.fakes.feed_server import FeedServer
from tests.privacy_feeds import SECRETS


async def test_a_channels_stories_and_search_show_only_the_copies_it_may_see(
    core: CommandCore,
    settings: Settings,
    handle: RedisHandle,
    feed_server: FeedServer,
) -> None:
    await shared_stories(core, handle, feed_server)
    async with serving(settings, handle) as base, browser() as session:
        await sign_in(session, base, handle, OPERATOR)

        async def page(query: str) -> str:
            async with session.get(f"{base}/ui/stories?{query}") as answer:
                assert answer.status == 200
                return await answer.text()

        public = await page(f"channel={quote(str(PUBLIC))}")
        private = await page(f"channel={quote(str(PRIVATE))}")
        found = await page(f"channel={quote(str(PUBLIC))}&q=comet")
        broken = await page(f"channel={quote(str(PUBLIC))}&q=%28comet")
        unknown = await page("channel=slack%3AT9%3ACX")
        chooser = await page("")
    assert public.count('<article class="story">') == 3
    assert "Harbour bridge reopens after repairs" in public
    assert not [s for s in SECRETS if s.lower() in public.lower()], "no private copy"
    assert "Zebra-42" in private and "other copy this channel may see" in private
    assert found.count('<article class="story">') == 1 and "Comet visible tonight" in found
    assert 'class="error"' in broken and "Harbour" not in broken
    assert "not one of the channels you manage" in unknown
    assert f'<option value="{PUBLIC}">' in chooser and '<article class="story">' not in chooser


async def test_a_filter_is_tested_on_the_feeds_last_stories_and_nothing_changes(
    core: CommandCore,
    settings: Settings,
    handle: RedisHandle,
    feed_server: FeedServer,
) -> None:
    await shared_stories(core, handle, feed_server)
    before = await handle.client.hgetall(handle.keys.channel_subs(str(PUBLIC)))
    async with serving(settings, handle) as base, browser() as session:
        await sign_in(session, base, handle, OPERATOR)
        async with session.get(f"{base}/ui/channels") as page:
            html = await page.text()
            csrf = re.findall(r'name="csrf" value="([^"]+)"', html)[0]
            assert 'action="' + base + '/ui/filter-test"' in html

        async def test(query: str, token: str = csrf) -> tuple[int, str]:
            form = {"csrf": token, "channel": str(PUBLIC), "feed": "f1", "query": query}
            async with session.post(f"{base}/ui/filter-test", data=form) as answer:
                return answer.status, await answer.text()

        status, passed = await test("comet OR harbour")
        assert status == 200 and "It passes 2 and blocks 1." in passed
        assert '<td class="ok">pass</td><td>Comet visible tonight</td>' in passed
        status, broken = await test("(comet")
        assert status == 200 and 'class="error"' in broken and "It passes" not in broken
        assert (await test("comet", token="forged"))[0] == 403
    after = await handle.client.hgetall(handle.keys.channel_subs(str(PUBLIC)))
    assert after == before, "a test changes nothing"
