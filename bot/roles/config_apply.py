"""Config as code: the watch list and channel subscriptions written in `newsbot.toml`.

    [[feeds]]                       # watched, whether or not a channel subscribes
    url = "https://example.com/feed.xml"
    interval = 300                  # optional, seconds

    [[channels]]
    id = "slack:T0123:C0456"
    schedule = "daily 09:00 Europe/Berlin"   # optional
    quiet_message = "No news today."         # optional: posted when a digest is empty
    breaking = "on 4 60"            # optional: as /news breaking (on [outlets] [minutes], off)
    rank = "smart"                  # optional: time, coverage or smart
    style = "compact"               # optional: standard, compact or headlines
    template = "{title} ({source}) {link}"   # optional: the channel's own template
    [[channels.feeds]]
    url = "https://example.com/feed.xml"
    mode = "instant"                # optional: digest (default) or instant
    filter = "ukraine -sport"       # optional, in the query language
    priority = 2                    # optional: lifts this feed's stories in digests

`plan_config` checks everything first and raises one `ConfigError` listing every problem;
`apply_config` is idempotent, so it runs on every start: what the file says is added or
updated, and nothing the file does not mention is removed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.errors import ConfigError
from bot.settings import Settings
from bot.store.subscriptions import SubscriptionStore
from bot.store.watchlist import InvalidFeedURL, Watchlist, check_feed_url
from handlers.breaking import BreakingRule
from handlers.channels import (
    ChannelError,
    ChannelRef,
    Mode,
    Subscription,
    check_filter,
    check_mode,
)
from handlers.commands import CommandError, parse_command
from handlers.schedule import ScheduleError, parse_schedule
from handlers.styles import STYLE, TEMPLATE, TemplateError, check_template


@dataclass(frozen=True)
class PlannedFeed:
    url: str
    interval: float | None = None


@dataclass(frozen=True)
class PlannedSubscription:
    url: str
    mode: Mode | None = None
    filter: str | None = None
    priority: int | None = None


@dataclass(frozen=True)
class PlannedChannel:
    channel: ChannelRef
    schedule: str | None = None
    quiet_message: str | None = None
    feeds: tuple[PlannedSubscription, ...] = ()
    options: tuple[tuple[str, str | None], ...] = ()  # breaking, rank, style, template


@dataclass
class ConfigPlan:
    """What `newsbot.toml` asks for, checked."""

    feeds: list[PlannedFeed] = field(default_factory=list)
    channels: list[PlannedChannel] = field(default_factory=list)


def _url(raw: Any, where: str, problems: list[str]) -> str | None:
    try:
        return check_feed_url(str(raw))
    except InvalidFeedURL as exc:
        problems.append(f"{where}: {exc}")
        return None


def _subscription(
    table: Mapping[str, Any], where: str, problems: list[str]
) -> PlannedSubscription | None:
    url = _url(table.get("url", ""), f"{where}.url", problems)
    try:
        mode = check_mode(str(table["mode"])) if "mode" in table else None
        feed_filter = check_filter(str(table["filter"])) if "filter" in table else None
    except ChannelError as exc:
        problems.append(f"{where}: {exc}")
        return None
    priority = table.get("priority")
    if priority is not None and (not isinstance(priority, int) or isinstance(priority, bool)):
        problems.append(f"{where}.priority: expected a whole number")
        return None
    unknown = set(table) - {"url", "mode", "filter", "priority"}
    if unknown:
        problems.append(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    return PlannedSubscription(url, mode, feed_filter, priority) if url else None


EXPECTED = {
    "rank": "time, coverage or smart",
    "style": "standard, compact or headlines (a template of your own: the template key)",
}
CHANNEL_KEYS = frozenset(
    {"id", "schedule", "quiet_message", "feeds", "breaking", "rank", "style", "template"}
)


def _channel_options(
    table: Mapping[str, Any], where: str, problems: list[str]
) -> dict[str, str | None]:
    """A channel's breaking, rank, style and template, checked as `/news` checks them."""
    options: dict[str, str | None] = {}
    for name in ("breaking", "rank", "style"):
        if name in table:
            try:
                command = parse_command(f"{name} {table[name]}")
            except CommandError as exc:
                problems.append(f"{where}.{name}: {str(exc).splitlines()[0]}")
                continue
            if name == "breaking":
                rule = BreakingRule(command.count, command.seconds // 60)
                options[name] = rule.text() if command.setting == "on" else None
            elif command.setting in {"test", "template", ""}:
                problems.append(f"{where}.{name}: expected {EXPECTED[name]}")
            else:
                options[name] = command.setting
    if "template" in table:
        try:
            options[TEMPLATE] = check_template(str(table["template"]))
            options[STYLE] = "template"
        except TemplateError as exc:
            problems.append(f"{where}.template: {exc}")
    unknown = set(table) - CHANNEL_KEYS
    if unknown:
        problems.append(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    return options


def plan_config(settings: Settings) -> ConfigPlan:
    """Check the file's [[feeds]] and [[channels]]; raise `ConfigError` listing all problems."""
    problems: list[str] = []
    plan = ConfigPlan()
    for number, table in enumerate(settings.feeds, start=1):
        where = f"feeds[{number}]"
        url = _url(table.get("url", ""), f"{where}.url", problems)
        interval = table.get("interval")
        if interval is not None and not (isinstance(interval, int | float) and interval > 0):
            problems.append(f"{where}.interval: expected a positive number of seconds")
        elif url:
            plan.feeds.append(PlannedFeed(url, float(interval) if interval else None))
    for number, table in enumerate(settings.channels, start=1):
        where = f"channels[{number}]"
        try:
            channel = ChannelRef.parse(str(table.get("id", "")))
        except ChannelError as exc:
            problems.append(f"{where}.id: {exc}")
            continue
        schedule = table.get("schedule")
        if schedule is not None:
            try:
                schedule = parse_schedule(str(schedule), default_zone=settings.timezone).describe()
            except ScheduleError as exc:
                problems.append(f"{where}.schedule: {exc}")
        subscriptions = []
        for index, sub in enumerate(table.get("feeds") or [], start=1):
            if not isinstance(sub, Mapping):
                problems.append(f"{where}.feeds[{index}]: expected a table")
                continue
            planned = _subscription(sub, f"{where}.feeds[{index}]", problems)
            if planned is not None:
                subscriptions.append(planned)
        quiet = table.get("quiet_message")
        options = _channel_options(table, where, problems)
        plan.channels.append(
            PlannedChannel(
                channel,
                schedule,
                str(quiet) if quiet else None,
                tuple(subscriptions),
                tuple(options.items()),
            )
        )
    if problems:
        raise ConfigError(problems)
    return plan


async def apply_config(
    plan: ConfigPlan,
    *,
    watchlist: Watchlist,
    subscriptions: SubscriptionStore,
    now: float,
    seed: Callable[[Subscription], Awaitable[int]] | None = None,
) -> int:
    """Make Redis hold what the plan says; return how many subscriptions it touched.

    `seed` is called for each subscription the file creates (not for existing ones).
    """
    for feed in plan.feeds:
        record, new = await watchlist.add(feed.url, now=now, interval=feed.interval)
        if not new and feed.interval and record.interval != feed.interval:
            await watchlist.set_interval(record.id, feed.interval)
    touched = 0
    for channel in plan.channels:
        await subscriptions.set_channel(
            channel.channel, schedule=channel.schedule, quiet_message=channel.quiet_message
        )
        if channel.options:
            await subscriptions.set_options(channel.channel, dict(channel.options))
        for sub in channel.feeds:
            record, _ = await watchlist.add(sub.url, now=now)
            subscription, new = await subscriptions.subscribe(
                channel.channel,
                record.id,
                now=now,
                mode=sub.mode,
                filter=sub.filter,
                priority=sub.priority,
                added_by="newsbot.toml",
            )
            if new and seed is not None:
                await seed(subscription)
            touched += 1
    return touched
