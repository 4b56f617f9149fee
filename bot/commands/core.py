"""The platform-neutral `/news` command core: the console, Slack and Discord all call this.

An adapter turns what its platform sent into a `Caller` (where, who, and whether they
manage the channel) and the command text, and formats the `Reply` it gets back. What a
command posts to the channel itself (a digest now, a new subscription's stories) goes
through the outbox like every other delivery, so it is paced, recorded and never doubled.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.commands.alert_commands import AlertCommands
from bot.commands.article_summary import read_source, summarize_document
from bot.commands.caller import Caller
from bot.commands.channel_settings import ChannelSettingsCommands
from bot.commands.story_actions import StoryActions
from bot.errors import NewsbotError
from bot.metrics import Metrics
from bot.net.fetch import Fetcher
from bot.render.feed_status import status_line
from bot.roles.poller import POLL_LEASE, Poller, poller_for
from bot.roles.routing import Router, router_for
from bot.roles.scheduler import Scheduler, scheduler_for
from bot.settings import Settings
from bot.store.alerts import DM, AlertStore
from bot.store.audience import AudienceStore
from bot.store.holds import HoldStore
from bot.store.keys import Keys
from bot.store.search_index import SearchIndex
from bot.store.stories import newest_stories, stories_since
from bot.store.story_marks import StoryMarks
from bot.store.subscriptions import SubscriptionStore
from bot.store.ui_auth import OPERATOR, Scope, UiAuth
from bot.store.watchlist import CHAT, Watchlist
from handlers.channels import ChannelRef
from handlers.commands import HELP, Command, CommandError, parse_command
from handlers.discovery import discovery_advice
from handlers.feedback import source_key
from handlers.query import QueryError
from handlers.reply import Reply, refusal
from handlers.safe_text import printable
from handlers.story_actions import parse_action
from handlers.summarize import Abstractive, Budget
from handlers.trending import trend_of, trending
from handlers.visibility import project, project_all, visible_copies

log = logging.getLogger(__name__)
SEARCH_LIMIT = 10
TRENDING_SLACK = 86400.0  # stories stored up to a day before the window can still trend


class CommandCore:
    """Runs `/news` commands against newsbot's state."""

    def __init__(
        self,
        *,
        client: Redis,
        keys: Keys,
        settings: Settings,
        fetcher: Fetcher,
        clock: Callable[[], float] = time.time,
        abstractive: Abstractive | None = None,
        poller: Poller | None = None,
        router: Router | None = None,
        scheduler: Scheduler | None = None,
    ) -> None:
        self._client = client
        self._keys = keys
        self._settings = settings
        self._fetcher = fetcher
        self._clock = clock
        self._abstractive = abstractive
        self._watchlist = Watchlist(client, keys)
        self._subscriptions = SubscriptionStore(client, keys)
        self._audiences = AudienceStore(client, keys, clock=clock)
        # The running bot passes its own poller, router and scheduler (one configuration,
        # one set of metrics); alone (tests, tools), the core makes them the same way.
        self._router = router or router_for(settings, client, keys, clock=clock)
        self._scheduler = scheduler or scheduler_for(settings, client, keys, clock=clock)
        self._alerts = AlertCommands(client, keys, settings, clock=clock)
        self._alert_store = AlertStore(client, keys, ttl=settings.retention_seconds)
        self._settings_commands = ChannelSettingsCommands(client, keys, clock=clock)
        self._search = SearchIndex(client, keys, ttl=settings.retention_seconds, clock=clock)
        self._holds = HoldStore(client, keys, ttl=settings.retention_seconds)
        self._marks = StoryMarks(client, keys, ttl=settings.retention_seconds, clock=clock)
        self._actions = StoryActions(
            client=client,
            keys=keys,
            fetcher=fetcher,
            audiences=self._audiences,
            marks=self._marks,
            abstractive=abstractive,
        )
        self._poller = poller or poller_for(
            settings, client=client, keys=keys, fetcher=fetcher, metrics=Metrics(), clock=clock
        )

    def may_manage(self, caller: Caller, *, target: bool = False) -> bool:
        """May the caller manage this channel (or, with `target`, the channel the command
        names, where the platform says so per channel)?"""
        managers = self._settings.managers
        admin = caller.admin
        if target and caller.target_admin is not None:
            admin = caller.target_admin
        return admin or "everyone" in managers or caller.user in managers

    async def handle(self, caller: Caller, text: str) -> Reply:
        """Answer one command; every problem becomes a reply saying what to do, not a raise.

        This is the per-command boundary: whatever goes wrong, the adapter gets a reply and
        lives on, and an unexpected error is logged with its traceback."""
        return await self._guarded(caller, text, partial(self._answer, caller, text))

    async def act(self, caller: Caller, value: str) -> Reply:
        """Answer an action taken on a posted story (a control's `value`), through the
        same boundary as a command."""
        action = parse_action(value)
        if action is None:
            return refusal("newsbot does not know that button; it may be from an older post")
        manager = self.may_manage(caller)
        run = partial(self._actions.run, caller, action, manager=manager)
        return await self._guarded(caller, value, run)

    async def story(self, caller: Caller, story_id: str) -> Reply:
        """One story as the caller's channel may see it, to act on (Discord's "Pick a
        story…")."""
        return await self._guarded(caller, story_id, partial(self._actions.show, caller, story_id))

    async def _guarded(
        self, caller: Caller, text: str, answer: Callable[[], Awaitable[Reply]]
    ) -> Reply:
        try:
            if caller.public is not None:
                await self._subscriptions.set_visibility(caller.channel, public=caller.public)
            # Whoever runs a command in a channel is in it: a personal alert they made in a
            # private channel sees its feeds while this record is fresh.
            await self._audiences.record_members(caller.channel, [caller.user])
            # A command in a held channel, or by a member whose DMs were refused, may mean
            # the platform lets newsbot in again: probe those holds now.
            dm = f"{caller.channel.platform}:{DM}:{caller.user}"
            await self._holds.probe_now([str(caller.channel), dm])
            return await answer()
        except RedisError:
            log.exception("command failed: Redis", extra={"channel": str(caller.channel)})
            return refusal("newsbot cannot reach its database right now; try again in a minute")
        except Exception:
            log.exception(
                "command failed unexpectedly",
                extra={"channel": str(caller.channel), "command": text[:200]},
            )
            return refusal(
                "something went wrong answering that (it was logged for the operator); "
                "try again, or see /news help"
            )

    async def access_restored(self, channels: Sequence[ChannelRef]) -> int:
        """The platform says newsbot may be let in again (invited back, a permission or
        role changed): probe those of these channels that are held now. How many are."""
        asked = await self._holds.probe_now([str(c) for c in channels])
        if asked:
            log.info(
                "access may be back; probing held channels now",
                extra={"channels": ",".join(str(c) for c in channels)[:500], "held": asked},
            )
        return asked

    async def access_restored_in(self, platform: str, workspace: str) -> int:
        """`access_restored` for every held channel of a workspace or guild."""
        held = await self._holds.held_in(platform, workspace)
        return await self.access_restored([ChannelRef.parse(c) for c in held])

    async def _answer(self, caller: Caller, text: str) -> Reply:
        try:
            command = parse_command(text, default_zone=self._settings.timezone)
        except CommandError as exc:
            return refusal(str(exc))
        if command.name != "alert":  # `alert list` shows a pause; `alert resume` ends it
            platform, now = caller.channel.platform, self._clock()
            await self._alert_store.member_active(platform, caller.user, now)
        if command.manager_only and not self.may_manage(caller):
            return refusal(
                f"only channel managers may {command.name} here "
                "(Slack: workspace admins; Discord: Manage Channels)"
            )
        if command.name == "alert" and command.channel and not self.may_manage(caller, target=True):
            return refusal(
                "a channel alert posts for everyone in its channel, so only that channel's "
                "managers may make one there (Discord: Manage Channels in that channel)"
            )
        try:
            return await self._run(caller, command)
        except NewsbotError as exc:
            return refusal(str(exc))

    async def _run(self, caller: Caller, command: Command) -> Reply:
        channel = caller.channel
        if command.name == "subscribe":
            return await self.subscribe(caller, command)
        if command.name == "unsubscribe":
            return await self.unsubscribe(channel, command.target)
        if command.name == "feeds":
            return await self.feeds(channel, manager=self.may_manage(caller))
        if command.name == "digest":
            if not self.may_manage(caller):
                return await self.digest_preview(channel)
            return await self.digest(channel)
        if command.name == "schedule":
            return await self.schedule(channel, command)
        if command.name == "latest":
            return await self.latest(channel, command.count)
        if command.name == "search":
            return await self.search(channel, command.query)
        if command.name == "summarize":
            return await self.summarize(command.target)
        if command.name == "alert":
            return await self._alerts.run(caller, command)
        if command.name in {"mode", "filter", "quiet", "breaking", "rank", "style"}:
            return await self._settings_commands.run(caller, command)
        if command.name == "trending":
            return await self.trending(channel, command.count)
        if command.name == "dashboard":
            return await self.dashboard(caller)
        return Reply(HELP)

    async def subscribe(self, caller: Caller, command: Command, *, page: str = "") -> Reply:
        now = self._clock()
        if full := await self._full(caller.channel, command.target):
            return refusal(full)
        # A new feed is due only after the poll lease: this command polls it, not a
        # running poller (which would log a failure for a feed this may not keep).
        record, created = await self._watchlist.add(
            command.target, now=now, origin=CHAT, due=now + POLL_LEASE
        )
        if not record.last_ok:
            await self._watchlist.reschedule(record.id, now + POLL_LEASE)
        sub, new = await self._subscriptions.subscribe(
            caller.channel, record.id, now=now, mode=command.mode, added_by=caller.user
        )
        if record.last_ok:
            found = await self._client.zcard(self._keys.feed_stories(record.id))
            queued = (
                await self._router.seed(sub, newest=self._settings.first_fetch_max) if new else 0
            )
        else:
            report = await self._poller.poll(record, trying=created)
            if report.status == "failed":
                await self._subscriptions.unsubscribe(caller.channel, record.id)
                if created:
                    await self._watchlist.forget_new(record)
                links = None if page else await self._poller.discover(record.url)
                if links and len(links) == 1:
                    return await self.subscribe(
                        caller, replace(command, target=links[0].url), page=record.shown_url
                    )
                if links is not None:
                    return refusal(f"{record.shown_url}: {discovery_advice(record.url, links)}")
                tried = (
                    " (it had no scheme, so newsbot tried https://)" if command.scheme_added else ""
                )
                return refusal(f"could not subscribe to {record.shown_url}{tried}: {report.error}")
            found = report.entries
            queued = min(found, self._settings.first_fetch_max) if new else 0
        await self._scheduler.ensure_scheduled(caller.channel)
        fresh = await self._watchlist.get(record.id) or record
        name = f"{fresh.id} ({fresh.title})" if fresh.title else fresh.id
        if not new:
            return Reply(f"{name} was already subscribed here; it is now in {sub.mode} mode.")
        lines = [f"Subscribed this channel to {name} in {sub.mode} mode: found {found} stories."]
        if page:
            lines.insert(0, f"{page} is a web page; its feed is {fresh.shown_url}.")
        elif command.scheme_added:
            lines.insert(0, f"Read as {fresh.shown_url}.")
        if queued and sub.mode == "instant":
            lines.append(f"The {queued} newest are being posted now; new ones follow as they come.")
        elif queued:
            lines.append(
                f"The {queued} newest go into the next digest ({await self._when(caller.channel)})."
            )
        lines.append("Older stories are kept for /news search and /news latest.")
        return Reply(" ".join(lines))

    async def _full(self, channel: ChannelRef, target: str) -> str:
        """Why this channel can take no new subscription to `target`; "" when it can (or
        already has it: subscribing again only changes its mode)."""
        if await self._settings_commands.subscribed(channel, target) is not None:
            return ""
        most = self._settings.subscriptions_per_channel
        if await self._client.hlen(self._keys.channel_subs(str(channel))) >= most:
            return (
                f"this channel follows {most} feeds, the most allowed "
                "(NEWSBOT_SUBSCRIPTIONS_PER_CHANNEL); unsubscribe one first (/news feeds)"
            )
        prefix = f"{channel.platform}:{channel.workspace}:"
        channels = [str(c) for c in await self._client.smembers(self._keys.channels)]
        same = [c for c in channels if c.startswith(prefix)]
        async with self._client.pipeline(transaction=False) as pipe:
            for other in same:
                pipe.hlen(self._keys.channel_subs(other))
            total = sum(await pipe.execute())
        most = self._settings.subscriptions_per_workspace
        if total >= most:
            return (
                f"this workspace has {total} subscriptions, the most allowed "
                "(NEWSBOT_SUBSCRIPTIONS_PER_WORKSPACE); ask your newsbot operator"
            )
        return ""

    async def _when(self, channel: ChannelRef) -> str:
        settings = await self._subscriptions.channel_settings(channel)
        schedule = self._scheduler.schedule_of(settings)
        due = await self._client.zscore(self._keys.digests_due, str(channel))
        if due is None:
            return f"schedule {schedule.describe()}; use /news digest to post one"
        moment = datetime.fromtimestamp(float(due), UTC).astimezone(schedule.tz)
        return f"{schedule.describe()}, next {moment:%a %d %b %H:%M %Z}"

    async def unsubscribe(self, channel: ChannelRef, target: str) -> Reply:
        record = await self._settings_commands.subscribed(channel, target)
        if record is None:
            return refusal(f"this channel has no feed {target!r}; /news feeds lists its feeds")
        await self._subscriptions.unsubscribe(channel, record.id)
        await self._scheduler.reschedule(channel)
        done = f"Unsubscribed this channel from {record.id}: {record.shown_url}."
        if record.origin == CHAT and not await self._client.hlen(self._keys.feed_subs(record.id)):
            await self._watchlist.remove(record.id)
            log.info(
                "a feed added from chat left the watch list with its last subscription",
                extra={"feed": record.id, "feed_url": record.shown_url},
            )
            done += " No channel follows it any more, so newsbot stops fetching it."
        return Reply(done)

    async def feeds(self, channel: ChannelRef, *, manager: bool = False) -> Reply:
        """This channel's feeds and their health. Addresses are masked (a token in a feed's
        address is a password), but for a manager of this channel, who sees the whole
        address of the feeds it follows; the answer is theirs alone (ephemeral)."""
        subs = await self._subscriptions.of_channel(channel)
        if not subs:
            return Reply("This channel has no feeds yet. Add one with /news subscribe <feed url>.")
        now = self._clock()
        weights, _marks = await self._marks.weights(channel)
        lines = [f"This channel's feeds ({len(subs)}):"]
        for sub in subs:
            record = await self._watchlist.get(sub.feed_id)
            if record is None:
                continue
            title = f" ({record.shown_title})" if record.title else ""
            shown = f", filter {sub.filter!r}" if sub.filter else ""
            shown += ", paused" if sub.paused else ""
            address = printable(record.url) if manager else record.shown_url
            lines.append(f"{record.id}  {address}{title} [{sub.mode}{shown}]")
            balance = weights.get(source_key(record.id))
            liked = f" · feedback {balance:+.1f}" if balance is not None else ""
            lines.append(f"    {status_line(record, now)}{liked}")
            if warning := await self._settings_commands.silent_filter(sub):
                lines.append(warning)
        if any(s.mode == "digest" for s in subs):
            lines.append(f"Digests: {await self._when(channel)}")
        hold = (await self._holds.holds([str(channel)])).get(str(channel))
        if hold is not None:
            lines.append(
                f"Delivery to this channel FAILED: {hold.reason}. {hold.waiting} deliveries "
                "are held until it works (newsbot tries again now and every "
                f"{self._settings.refused_probe / 60:.0f} minutes)."
            )
        return Reply("\n".join(lines))

    async def digest(self, channel: ChannelRef) -> Reply:
        outcome = await self._scheduler.post_now(channel)
        if not outcome.stories:
            return Reply(
                "Nothing new since the last digest. /news latest shows the newest stories."
            )
        hold = (await self._holds.holds([str(channel)])).get(str(channel))
        if hold is not None:
            return Reply(
                f"A digest of {outcome.stories} stories is ready, but newsbot cannot post "
                f"here: {hold.reason}. It waits with {hold.waiting} other held deliveries "
                "and goes out as soon as newsbot may post (newsbot just tried again)."
            )
        return Reply(
            f"Posting a digest of {outcome.stories} stories now; "
            "the next scheduled digest covers what arrives after it."
        )

    async def digest_preview(self, channel: ChannelRef) -> Reply:
        """A member's `/news digest`: what the next digest holds, shown to them alone. It
        posts nothing, so no member can pre-empt the channel's schedule."""
        preview = await self._scheduler.preview(channel)
        if not preview.items:
            return Reply(
                "Nothing is waiting for this channel's next digest yet. "
                "/news latest shows the newest stories."
            )
        more = f", and {preview.more} more" if preview.more else ""
        return Reply(
            f"Only you see this preview: the next digest ({await self._when(channel)}) holds "
            f"these {len(preview.items)} stories{more}. Channel managers can post it now "
            "with /news digest.",
            preview.items,
        )

    async def schedule(self, channel: ChannelRef, command: Command) -> Reply:
        if command.schedule is None:
            return Reply(f"Digests here: {await self._when(channel)}.")
        await self._subscriptions.set_channel(channel, schedule=command.schedule_text)
        await self._scheduler.reschedule(channel)
        if command.schedule.kind == "off":
            return Reply("Scheduled digests are off here; /news digest still posts one.")
        subs = await self._subscriptions.of_channel(channel)
        note = (
            ""
            if any(s.mode == "digest" for s in subs)
            else " This channel has no digest subscriptions yet."
        )
        return Reply(f"Digests here: {await self._when(channel)}.{note}")

    async def latest(self, channel: ChannelRef, count: int) -> Reply:
        audience = await self._audiences.for_channel(channel)
        if not audience.own:
            return Reply("This channel has no feeds yet. Add one with /news subscribe <feed url>.")
        stories = await newest_stories(self._client, self._keys, sorted(audience.own), count)
        items = project_all(stories, audience)
        if not items:
            return Reply("No stories stored yet for this channel's feeds.")
        return Reply(f"The {len(items)} newest stories of this channel's feeds:", tuple(items))

    async def dashboard(self, caller: Caller) -> Reply:
        """A one-time link to the managers' page, for the caller alone: scoped to them in
        this workspace (at the console, the operator, who sees every workspace)."""
        channel = caller.channel
        scope = (
            OPERATOR
            if channel.platform == "console"
            else Scope(channel.platform, channel.workspace, caller.user)
        )
        token = await UiAuth(self._client, self._keys, clock=self._clock).issue(scope)
        return Reply(
            "Your link to newsbot's page (only you see it; it works once, within 15 "
            f"minutes): {self._settings.page_url}/ui/login?t={token}",
            suppress_previews=True,
        )

    async def trending(self, channel: ChannelRef, hours: int) -> Reply:
        """This channel's stories ranked by the outlets they gained in the last `hours`, as
        the channel may see them."""
        audience = await self._audiences.for_channel(channel)
        if not audience.own:
            return Reply("This channel has no feeds yet. Add one with /news subscribe <feed url>.")
        since = self._clock() - hours * 3600
        stories = await stories_since(
            self._client, self._keys, sorted(audience.own), since - TRENDING_SLACK
        )
        start = datetime.fromtimestamp(since, UTC)
        trends = [
            trend_of(item, visible_copies(story, audience), start)
            for story in stories
            if (item := project(story, audience)) is not None
        ]
        top = trending(trends)
        if not top:
            return Reply(
                f"No story of this channel's feeds gained an outlet in the last {hours} h."
            )
        lines = [f"Trending here in the last {hours} h (outlets gained):"]
        for n, trend in enumerate(top, start=1):
            lines.append(
                f"{n}. +{trend.gained} ({trend.outlets} in all, first: {trend.first}) "
                f"{trend.item.title} {trend.item.url}"
            )
        return Reply("\n".join(lines))

    async def search(self, channel: ChannelRef, query: str) -> Reply:
        audience = await self._audiences.for_channel(channel)
        try:
            found = await self._search.search(
                query,
                audience=audience,
                limit=SEARCH_LIMIT,
                budget_ms=self._settings.search_budget_ms,
            )
        except QueryError as exc:
            return refusal(str(exc))
        partial = "\npartial results: the query took too long; narrow it" if found.partial else ""
        if not found.items:
            return Reply(f"No stories this channel may see match {query!r}.{partial}")
        return Reply(f"Stories matching {query!r}, newest first:{partial}", tuple(found.items))

    async def summarize(self, url: str) -> Reply:
        data, final_url = await read_source(url, self._fetcher)
        summary = await summarize_document(
            data, source=url, url=final_url, budget=Budget(), abstractive=self._abstractive
        )
        title = f"{summary.title}\n" if summary.title else ""
        return Reply(f"{title}{summary.summary}\n({summary.method} summary of {url})")
