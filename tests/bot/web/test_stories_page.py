"""The Stories page: a channel's latest stories and search, each with the copies that
channel may see, never a private channel's copy elsewhere."""

from __future__ import annotations

from urllib.parse import quote

from bot.commands.core import CommandCore
from bot.settings import Settings
from bot.store.connection import RedisHandle
from bot.store.ui_auth import OPERATOR, UiAuth
from tests.bot.commands.test_story_actions import (  # noqa: F401 (the fixture)
    PRIVATE,
    PUBLIC,
    core,
    shared_stories,
)
from tests.bot.web.conftest import browser, serving
from tests.fakes.feed_server import FeedServer
from tests.privacy_feeds import SECRETS


async def test_a_channels_stories_and_search_show_only_the_copies_it_may_see(
    core: CommandCore,  # noqa: F811
    settings: Settings,
    handle: RedisHandle,
    feed_server: FeedServer,
) -> None:
    await shared_stories(core, handle, feed_server)
    auth = UiAuth(handle.client, handle.keys)
    async with serving(settings, handle) as base, browser() as session:
        await session.post(f"{base}/ui/login", data={"t": await auth.issue(OPERATOR)})

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
    assert "no such channel" in unknown
    assert f'<option value="{PUBLIC}">' in chooser and '<article class="story">' not in chooser
