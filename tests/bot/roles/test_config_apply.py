"""Config as code: newsbot.toml's feeds and channels, checked at once and applied idempotently."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.roles.config_apply import apply_config, plan_config
from bot.roles.scheduler import Scheduler
from bot.settings import load_settings
from bot.store.connection import RedisHandle
from bot.store.subscriptions import SubscriptionStore
from bot.store.watchlist import Watchlist
from handlers.channels import ChannelRef
from tests.bot.cli.test_cli import cli_env, newsbot

GOOD = """
[[feeds]]
url = "https://watch.example.com/feed"
interval = 300

[[channels]]
id = "console:local:main"
schedule = "weekdays 08:30"
quiet_message = "Nothing new today."
[[channels.feeds]]
url = "https://one.example.com/feed"
mode = "instant"
filter = "ukraine -sport"
priority = 2
[[channels.feeds]]
url = "https://two.example.com/feed"
"""

BAD = """
[[feeds]]
url = "ftp://nope"

[[channels]]
id = "irc:x:y"

[[channels]]
id = "slack:T1:C1"
schedule = "sometimes"
[[channels.feeds]]
url = "https://ok.example.com/feed"
mode = "loud"
[[channels.feeds]]
url = "https://ok.example.com/feed"
filter = "(open"
"""


def settings_from(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    (tmp_path / "newsbot.toml").write_text(text)
    return load_settings({"NEWSBOT_TIMEZONE": "Europe/Berlin"}, cwd=tmp_path)


def test_every_problem_is_listed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        plan_config(settings_from(tmp_path, BAD))
    text = str(caught.value)
    assert len(caught.value.problems) == 5
    for fragment in (
        "feeds[1].url",
        "channels[1].id: unknown platform 'irc'",
        "channels[2].schedule",
        "channels[2].feeds[1]: unknown mode 'loud'",
        "channels[2].feeds[2]: filter",
    ):
        assert fragment in text


async def test_apply_is_idempotent(tmp_path: Path, handle: RedisHandle) -> None:
    plan = plan_config(settings_from(tmp_path, GOOD))
    assert plan.channels[0].schedule == "weekdays 08:30 Europe/Berlin"
    watchlist = Watchlist(handle.client, handle.keys)
    store = SubscriptionStore(handle.client, handle.keys)
    for _ in range(2):
        assert await apply_config(plan, watchlist=watchlist, subscriptions=store, now=1) == 2
    assert [f.url for f in await watchlist.all()] == [
        "https://watch.example.com/feed",
        "https://one.example.com/feed",
        "https://two.example.com/feed",
    ]
    channel = ChannelRef.parse("console:local:main")
    subs = await store.of_channel(channel)
    assert [(s.feed_id, s.mode, s.filter, s.priority) for s in subs] == [
        ("f2", "instant", "ukraine -sport", 2),
        ("f3", "digest", "", 0),
    ]
    assert await store.channel_settings(channel) == {
        "schedule": "weekdays 08:30 Europe/Berlin",
        "quiet_message": "Nothing new today.",
    }


async def test_run_and_check_refuse_a_bad_config_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "newsbot.toml").write_text(BAD)
    env = cli_env(tmp_path, NEWSBOT_CONFIG=str(tmp_path / "newsbot.toml"))
    for command in ("check", "run"):
        code, _out, err = await newsbot(command, env=env)
        assert code == 2 and "unknown platform 'irc'" in err and "Traceback" not in err


async def test_edits_to_the_file_apply_in_full(tmp_path: Path, handle: RedisHandle) -> None:
    """A changed interval is used, and a changed schedule (even `off`) never fires once
    more at the old time."""
    watchlist = Watchlist(handle.client, handle.keys)
    store = SubscriptionStore(handle.client, handle.keys)
    channel = ChannelRef.parse("console:local:main")
    plan = plan_config(settings_from(tmp_path, GOOD))
    await apply_config(plan, watchlist=watchlist, subscriptions=store, now=1)
    clock = datetime(2026, 11, 27, 6, tzinfo=UTC)  # a Friday, before 08:30 in Berlin
    scheduler = Scheduler(handle.client, handle.keys, clock=clock.timestamp)
    old_due = await scheduler.ensure_scheduled(channel)
    assert old_due == datetime(2026, 11, 27, 7, 30, tzinfo=UTC).timestamp()

    edited = GOOD.replace("interval = 300", "interval = 900").replace(
        'schedule = "weekdays 08:30"', 'schedule = "daily 18:00"'
    )
    plan = plan_config(settings_from(tmp_path, edited))
    await apply_config(plan, watchlist=watchlist, subscriptions=store, now=2)
    watched = await watchlist.get("https://watch.example.com/feed")
    assert watched is not None and watched.interval == 900
    assert await scheduler.ensure_scheduled(channel) == (
        datetime(2026, 11, 27, 17, tzinfo=UTC).timestamp()
    )

    off = GOOD.replace('schedule = "weekdays 08:30"', 'schedule = "off"')
    await apply_config(
        plan_config(settings_from(tmp_path, off)), watchlist=watchlist, subscriptions=store, now=3
    )
    assert await scheduler.ensure_scheduled(channel) is None
    assert await handle.client.zscore(handle.keys.digests_due, str(channel)) is None


async def test_a_channels_breaking_rank_style_and_template_come_from_the_file(
    tmp_path: Path, handle: RedisHandle
) -> None:
    good = GOOD.replace(
        'quiet_message = "Nothing new today."',
        'quiet_message = "Nothing new today."\nbreaking = "on 3 30"\nrank = "coverage"\n'
        'template = "{title} ({source}) {link}"',
    )
    plan = plan_config(settings_from(tmp_path, good))
    store = SubscriptionStore(handle.client, handle.keys)
    await apply_config(
        plan, watchlist=Watchlist(handle.client, handle.keys), subscriptions=store, now=1
    )
    channel = ChannelRef.parse("console:local:main")
    settings = await store.channel_settings(channel)
    assert settings["breaking"] == "3 30" and settings["rank"] == "coverage"
    assert settings["style"] == "template" and settings["template"] == "{title} ({source}) {link}"
    assert str(channel) in await handle.client.smembers(handle.keys.breaking_channels)

    bad = GOOD.replace(
        'quiet_message = "Nothing new today."',
        'breaking = "sometimes"\nrank = "loudest"\nstyle = "test"\ntemplate = "{headline}"\n'
        'colour = "red"',
    )
    with pytest.raises(ConfigError) as caught:
        plan_config(settings_from(tmp_path, bad))
    text = str(caught.value)
    for fragment in (
        "channels[1].breaking: say on",
        "channels[1].rank: unknown order 'loudest'",
        "channels[1].style: expected standard, compact or headlines",
        "channels[1].template: unknown placeholder {headline}",
        "channels[1]: unknown key(s) colour",
    ):
        assert fragment in text, text
