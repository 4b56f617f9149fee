"""`newsbot check`: settings, config, Redis, feed health, refused channels and chat tokens."""

from __future__ import annotations

import ipaddress
import time

from bot.cli.exits import EXIT_FAILED, EXIT_OK
from bot.errors import NewsbotError
from bot.platforms.discord_adapter.check import discord_report
from bot.platforms.slack_adapter.check import oauth_report, slack_report
from bot.platforms.slack_adapter.oauth import OAuth
from bot.platforms.slack_adapter.web_api import api_client
from bot.render.feed_status import health
from bot.roles.config_apply import ConfigPlan
from bot.roles.outbox_lag import outbox_lags
from bot.settings import Settings
from bot.store.connection import open_redis
from bot.store.holds import HoldStore
from bot.store.watchlist import Watchlist
from handlers.channels import PLATFORMS


async def check_command(settings: Settings, plan: ConfigPlan | None) -> int:
    ok = True
    print("settings: ok" + (f" (from {settings.config_path})" if settings.config_path else ""))
    if plan is not None and (plan.feeds or plan.channels):
        subs = sum(len(c.feeds) for c in plan.channels)
        print(
            f"config: {len(plan.feeds)} feed(s), {len(plan.channels)} channel(s), "
            f"{subs} subscription(s), applied when newsbot run starts"
        )
    try:
        async with open_redis(settings) as handle:
            version = await handle.server_version()
            print(f"redis: ok, {handle.shown}, version {version}")
            feeds = await Watchlist(handle.client, handle.keys).all()
            failing = [f for f in feeds if f.failures]
            print(f"feeds: {len(feeds)} watched, {len(failing)} failing")
            for feed in failing:
                print(f"  {feed.id} {feed.shown_url}: {health(feed, time.time())}")
            pending = await handle.client.xlen(handle.keys.entries)
            print(f"pipeline: {pending} entries waiting")
            holds = HoldStore(handle.client, handle.keys, ttl=settings.retention_seconds)
            held = await holds.all_held(PLATFORMS)
            channels = await handle.client.scard(handle.keys.channels)
            print(f"channels: {channels}, {len(held)} refusing deliveries (held)")
            for channel, hold in sorted(held.items()):
                left = settings.refused_channel_days - (time.time() - hold.since) / 86400
                print(
                    f"  {channel}: {hold.reason}; {hold.waiting} deliveries held; its "
                    f"subscriptions are removed in {max(left, 0):.0f} days unless it works again"
                )
            lags = await outbox_lags(handle.client, handle.keys, now=time.time())
            for lag in lags:
                if lag.worth_telling:
                    print(f"outbox {lag.describe()}")
            if any(lag.dead or lag.held for lag in lags):
                print("see held channels and dead letters with: newsbot outbox list")
            oauth = OAuth.of(settings, handle.client, handle.keys)
            if oauth is not None:
                token_ok, lines = await oauth_report(oauth.store, settings.slack_api_url)
                ok = ok and token_ok
                print("\n".join(lines))
    except NewsbotError as exc:
        ok = False
        print(f"redis: FAILED: {exc}")
    if settings.slack_oauth:
        pass  # reported with Redis, where the installations are
    elif settings.slack_bot_token is None:
        print("slack: not configured")
    elif settings.slack_signing_secret is None and settings.slack_app_token is None:
        ok = False
        print(
            "slack: FAILED: set SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)"
        )
    else:
        mode = "Socket Mode" if settings.slack_app_token is not None else "HTTP mode"
        if settings.slack_app_token is not None and settings.slack_signing_secret is not None:
            mode += " (both are set: Socket Mode wins)"
        app_token = settings.slack_app_token.reveal() if settings.slack_app_token else None
        token_ok, lines = await slack_report(api_client(settings), mode=mode, app_token=app_token)
        ok = ok and token_ok
        print("\n".join(lines))
        if (
            settings.slack_app_token is None
            and ipaddress.ip_address(settings.http_host).is_loopback
        ):
            print(
                f"slack: warning: HTTP mode listens on {settings.http_host} only "
                f"(NEWSBOT_HTTP_HOST): Slack reaches /slack/events only through a proxy on "
                "this host; without one, set NEWSBOT_HTTP_HOST=0.0.0.0 (and keep the port "
                "behind TLS)"
            )
    if settings.discord_token is None:
        print("discord: not configured")
    else:
        token_ok, lines = await discord_report(settings)
        ok = ok and token_ok
        print("\n".join(lines))
    return EXIT_OK if ok else EXIT_FAILED
