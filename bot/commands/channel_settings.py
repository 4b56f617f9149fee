"""`/news mode`, `filter`, `quiet`, `breaking`, `rank` and `style`: a channel's settings,
from chat.

The same settings `newsbot feeds add --channel` and `newsbot.toml` set, so a manager who
lives in Slack or Discord never needs the file. `filter … test` changes nothing: it shows
which of the feed's last 20 stories the query would pass, and which it would block.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from redis.asyncio import Redis

from bot.commands.caller import Caller
from bot.roles.routing import stored_routable, wants
from bot.store.audience import AudienceStore
from bot.store.keys import Keys
from bot.store.stories import load_stories, newest_stories
from bot.store.subscriptions import SubscriptionStore
from bot.store.watchlist import FeedRecord, Watchlist
from handlers.breaking import SETTING, BreakingRule
from handlers.channels import ChannelRef, Subscription
from handlers.commands import USAGE, Command
from handlers.ranking import RANK, RANK_TEXT, SMART_AFTER
from handlers.reply import Reply, refusal
from handlers.safe_text import neutral
from handlers.story import Story
from handlers.styles import STYLE, STYLES, TEMPLATE, Style, TemplateError, check_template
from handlers.text import one_line
from handlers.visibility import project_all

TESTED = 20
QUIET_WINDOW = 7 * 86400  # a filter that passed none of this long's stories is flagged


class ChannelSettingsCommands:
    """Mode, filter and quiet message of one channel, for its managers."""

    def __init__(
        self, client: Redis, keys: Keys, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._keys = keys
        self._clock = clock
        self._watchlist = Watchlist(client, keys)
        self._subscriptions = SubscriptionStore(client, keys)

    async def subscribed(self, channel: ChannelRef, target: str) -> FeedRecord | None:
        """The feed `target` names (id or URL), if this channel follows it."""
        record = await self._watchlist.get(target)
        if record is None or await self._subscriptions.get(channel, record.id) is None:
            return None
        return record

    async def run(self, caller: Caller, command: Command) -> Reply:
        if command.name == "breaking":
            return await self.breaking(caller.channel, command)
        if command.name == "rank":
            return await self.rank(caller.channel, command.setting)
        if command.name == "style":
            return await self.style(caller.channel, command)
        if command.name == "quiet":
            await self._subscriptions.set_channel(caller.channel, quiet_message=command.query)
            if not command.query:
                return Reply("An empty digest now posts nothing here.")
            return Reply(f"An empty digest now says: {neutral(one_line(command.query))}")
        record = await self.subscribed(caller.channel, command.target)
        if record is None:
            return refusal(
                f"this channel has no feed {command.target!r}; /news feeds lists its feeds"
            )
        now = self._clock()
        if command.name == "mode":
            await self._subscriptions.subscribe(
                caller.channel, record.id, now=now, mode=command.mode
            )
            return Reply(f"{record.id} now reaches this channel in {command.mode} mode.")
        if command.test:
            return await self._test(record, command.query)
        await self._subscriptions.subscribe(
            caller.channel, record.id, now=now, filter=command.query
        )
        if not command.query:
            return Reply(f"{record.id} has no filter here now: every new story comes.")
        return Reply(
            f"{record.id} now brings only stories matching {command.query!r}. "
            f"/news filter {record.id} test {command.query} shows what that passes."
        )

    async def breaking(self, channel: ChannelRef, command: Command) -> Reply:
        if command.setting == "off":
            await self._subscriptions.set_options(channel, {SETTING: None})
            return Reply("Breaking news is off here: digest stories wait for the digest.")
        if command.setting == "on":
            rule = BreakingRule(command.count, command.seconds // 60)
            await self._subscriptions.set_options(channel, {SETTING: rule.text()})
            return Reply(
                f"Breaking news is on here: a story of this channel's digest feeds that "
                f'{rule.describe()} is posted at once, as "Breaking · N outlets", and left '
                "out of the next digest."
            )
        settings = await self._subscriptions.channel_settings(channel)
        current = BreakingRule.parse(settings.get(SETTING))
        if current is None:
            return Reply(f"Breaking news is off here. Turn it on with {USAGE['breaking']}.")
        return Reply(f"Breaking news is on here: {current.describe()}.")

    async def rank(self, channel: ChannelRef, order: str) -> Reply:
        if order:
            await self._subscriptions.set_options(channel, {RANK: order})
            return Reply(f"Digests here are now ordered by {RANK_TEXT[order]}.")
        settings = await self._subscriptions.channel_settings(channel)
        chosen = settings.get(RANK, "")
        if chosen in RANK_TEXT:
            return Reply(f"Digests here are ordered by {RANK_TEXT[chosen]} (/news rank).")
        return Reply(
            "Digests here use the default order: outlets, the feed's priority and recency "
            f"until the channel has {SMART_AFTER} feedback marks, then smart. "
            f"Choose with {USAGE['rank']}."
        )

    async def style(self, channel: ChannelRef, command: Command) -> Reply:
        if command.setting == "template":
            try:
                template = check_template(command.query)
            except TemplateError as exc:
                return refusal(f"{exc}\nusage: {USAGE['style']}")
            await self._subscriptions.set_options(channel, {STYLE: "template", TEMPLATE: template})
            return Reply(
                "Stories here now follow this channel's template; /news style test shows one."
            )
        if command.setting in STYLES:
            await self._subscriptions.set_options(channel, {STYLE: command.setting})
            return Reply(f"Stories here are now shown in the {command.setting} style.")
        style = Style.of(await self._subscriptions.channel_settings(channel))
        if command.setting == "test":
            return await self._preview(channel, style)
        shown = f"the template {style.template!r}" if style.template else f"the {style.name} style"
        return Reply(f"Stories here are shown in {shown}. Change it with {USAGE['style']}.")

    async def _preview(self, channel: ChannelRef, style: Style) -> Reply:
        """The channel's latest story, as its style shows it (to the asker alone)."""
        audience = await AudienceStore(self._client, self._keys, clock=self._clock).for_channel(
            channel
        )
        stories = await newest_stories(self._client, self._keys, sorted(audience.own), 1)
        items = project_all(stories, audience)
        if not items:
            return Reply("No story of this channel's feeds is stored yet to preview the style on.")
        return Reply(
            f"This channel's latest story, in its style ({style.name}):", (items[0],), style=style
        )

    async def filter_test(self, feed_id: str, query: str) -> list[tuple[bool, str]]:
        """Whether `query` would pass each of the feed's last 20 stories, newest first, with
        the title routing saw (the feed's own copy, never another feed's). The query must
        parse (`handlers.channels.check_filter`)."""
        stories = await self._recent(feed_id, TESTED)
        probe = Subscription(ChannelRef("test", "test", "test"), feed_id, filter=query)
        seen = [stored_routable(s, feed_id) for s in stories]
        return [(wants(probe, r), neutral(one_line(r.fields["title"]))) for r in seen]

    async def _test(self, record: FeedRecord, query: str) -> Reply:
        results = await self.filter_test(record.id, query)
        if not results:
            return Reply(f"{record.id} has no stored stories yet to test a filter on.")
        passed = sum(ok for ok, _ in results)
        lines = [
            f"Of {record.id}'s last {len(results)} stories, {query!r} passes {passed} "
            f"and blocks {len(results) - passed}:"
        ]
        for ok, title in results:
            lines.append(f"  {'pass ' if ok else 'block'}  {title[:120]}")
        return Reply("\n".join(lines))

    async def _recent(self, feed_id: str, count: int, since: float | None = None) -> list[Story]:
        key = self._keys.feed_stories(feed_id)
        if since is None:
            ids = await self._client.zrevrange(key, 0, count - 1)
        else:
            ids = await self._client.zrevrangebyscore(key, "+inf", since, start=0, num=count)
        return await load_stories(self._client, self._keys, [str(i) for i in ids])

    async def silent_filter(self, sub: Subscription) -> str:
        """A warning when the subscription's filter passed none of its feed's stories of
        the last 7 days (a wrong filter is silent); "" otherwise."""
        if not sub.filter:
            return ""
        stories = await self._recent(sub.feed_id, 500, since=self._clock() - QUIET_WINDOW)
        if not stories or any(wants(sub, stored_routable(s, sub.feed_id)) for s in stories):
            return ""
        return f"    ! the filter matched none of the feed's {len(stories)} stories of 7 days"
