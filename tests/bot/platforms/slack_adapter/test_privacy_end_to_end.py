"""Privacy between channels the whole way on Slack: `newsbot run` as a process, a private
channel following an internal feed (its address carries a token) and a public channel
following a news feed, with stories shared between them by address, by syndication, and
one the news feed had first that the internal feed brings later."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tests.bot.platforms.slack_adapter.conftest import wait_for_responses
from tests.bot.platforms.slack_adapter.test_end_to_end import (
    run_newsbot,
    socket_mode_env,
    stop,
    until,
)
from tests.fakes.feed_server import FeedServer
from tests.fakes.slack_api import FakeSlack
from tests.privacy_feeds import NEWS_TITLES, internal_feed, leaks, news_feed


async def command(slack: FakeSlack, text: str, channel: str) -> str:
    """Send `/news text` in `channel`; its whole answer (text and blocks) as JSON."""
    before = len(slack.responses)
    await slack.send_command(text, channel=channel, name=f"r{before}")
    await wait_for_responses(slack, before + 1)
    return json.dumps(slack.responses[before])


async def test_a_private_channels_feed_never_reaches_the_public_channel(
    tmp_path: Path, slack: FakeSlack, feed_server: FeedServer, redis_url: str
) -> None:
    slack.private.add("GPRIV")
    slack.admins.add("UADMIN")
    internal = feed_server.add("/internal.xml?token=s3cret", internal_feed())
    news = feed_server.add("/news.xml", news_feed())
    process = await run_newsbot(tmp_path, socket_mode_env(tmp_path, slack, redis_url))
    try:
        await until(lambda: bool(slack.sockets), timeout=30)
        # The private channel subscribes first, so its copies create the shared stories.
        subscribed = await command(slack, f"subscribe <{internal}> instant", "GPRIV")
        assert "found 2 stories" in subscribed
        await until(lambda: len(slack.posts("GPRIV")) >= 2, timeout=30)
        assert "found 3 stories" in await command(slack, f"subscribe <{news}> instant", "CPUB")
        await until(lambda: len(slack.posts("CPUB")) >= 3, timeout=30)
        feed_server.add("/internal.xml?token=s3cret", internal_feed(later=True))
        await until(lambda: len(slack.posts("GPRIV")) >= 3, timeout=30)
        await asyncio.sleep(1.5)  # time for anything that should not come
        public_answers = [
            await command(slack, "search contract", "CPUB"),
            await command(slack, "latest 10", "CPUB"),
        ]
        private_search = await command(slack, "search contract", "GPRIV")
    finally:
        await stop(process)
    public = [json.dumps(p) for p in slack.posts("CPUB")]
    assert len(public) == 3, "every public story once, and no more when the private copy came"
    for title in NEWS_TITLES:
        assert any(title in post for post in public), title
    assert leaks("\n".join(public)) == []
    assert "No stories this channel may see match 'contract'" in public_answers[0]
    assert leaks(public_answers[1]) == [] and "Harbour bridge reopens" in public_answers[1]
    private = "\n".join(json.dumps(p) for p in slack.posts("GPRIV"))
    assert "Zebra-42: our bridge contract plan" in private
    assert "Wheat deal: zebra44 contract pricing" in private, "its own copy, when it came"
    # A search hit shows its earliest visible copy: the news feed had the wheat story first.
    assert "Zebra-42" in private_search and "Wheat harvest breaks a record" in private_search
    assert "also: <https://news.example/wheat|Acme Internal>" in private_search
    assert slack.problems == []
