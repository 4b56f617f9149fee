"""The composition root: builds every part of the running bot and starts and stops it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TextIO

import aiohttp
import discord
from aiohttp import web
from redis.exceptions import RedisError
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands.core import CommandCore
from bot.http_server import Handler, build_http_app, start_http
from bot.loop_lag import LoopLag, favour_the_loop
from bot.metrics import Metrics
from bot.net.fetch import Fetcher, FetchLimits
from bot.net.guard import AddressPolicy, allow_any, public_only
from bot.net.pages import FetcherPages
from bot.platforms.console_adapter import ConsoleDeliverer
from bot.platforms.discord_adapter.connection import log_in, rest_client
from bot.platforms.discord_adapter.deliverer import DiscordDeliverer
from bot.platforms.discord_adapter.gateway import Gateway
from bot.platforms.discord_adapter.page_access import DiscordPageAccess
from bot.platforms.discord_adapter.permissions import DiscordMembers
from bot.platforms.slack_adapter.commands import Admins, build_app, events_handler
from bot.platforms.slack_adapter.deliverer import SlackDeliverer
from bot.platforms.slack_adapter.oauth import OAuth, oauth_routes
from bot.platforms.slack_adapter.page_access import SlackPageAccess
from bot.platforms.slack_adapter.socket_mode import SocketStatus, run_socket_mode
from bot.platforms.slack_adapter.web_api import SlackApis, SlackMembers, api_client
from bot.roles.alerting import run_alert_flusher
from bot.roles.channel_cleanup import run_refused_cleanup
from bot.roles.config_apply import ConfigPlan, apply_config
from bot.roles.llm_summarizer import LLMSummarizer
from bot.roles.membership import MemberLister, run_member_refresher
from bot.roles.outbox import Deliverer, OutboxConsumer
from bot.roles.outbox_lag import outbox_lags, watch_outboxes
from bot.roles.pipeline import build_backlog_pipeline, build_pipeline
from bot.roles.poller import BACKLOG_MAX, poller_for
from bot.roles.routing import Router, router_for
from bot.roles.scheduler import Scheduler, run_scheduler, scheduler_for
from bot.roles.supervisor import RoleState, supervise
from bot.roles.worker import PipelineWorker, ensure_group
from bot.settings import Settings
from bot.store.alerts import AlertStore
from bot.store.connection import RedisHandle, open_redis, watch_embedded
from bot.store.replays import ReplayGuard
from bot.store.streams import consumer_name
from bot.store.subscriptions import SubscriptionStore
from bot.store.ui_auth import ManagedChannels
from bot.store.watchlist import Watchlist
from bot.web.app import build_ui_app
from handlers.channels import Subscription

log = logging.getLogger(__name__)

FEED_TIMEOUT = FetchLimits().total_timeout

ROLES = ("poller", "pipeline", "scheduler", "chat")


@dataclass(frozen=True)
class SlackSide:
    """How this process reaches Slack: the Web API of each workspace, and OAuth mode's
    installations and install pages (None with one bot token)."""

    apis: SlackApis
    oauth: OAuth | None


def slack_side(settings: Settings, handle: RedisHandle) -> SlackSide | None:
    """Slack with one bot token, in OAuth mode, or not at all."""
    oauth = OAuth.of(settings, handle.client, handle.keys)
    if oauth is not None:
        return SlackSide(SlackApis.of(settings, oauth.tokens), oauth)
    if settings.slack_bot_token is not None:
        return SlackSide(SlackApis.of(settings), None)
    return None


def slack_command_mode(settings: Settings) -> str:
    """How `/news` reaches this bot from Slack: "socket", "http", or "" (it does not)."""
    if settings.slack_oauth:
        return "http"  # the settings ask for the signing secret, and refuse Socket Mode
    if settings.slack_bot_token is None:
        return ""
    if settings.slack_app_token is not None:
        return "socket"
    return "http" if settings.slack_signing_secret is not None else ""


def chat_deliverers(
    settings: Settings,
    handle: RedisHandle,
    *,
    console_out: TextIO | None = None,
    console_only: bool = False,
    discord_rest: discord.Client | None = None,
    slack: SlackSide | None = None,
) -> list[Deliverer]:
    """A deliverer for each platform whose credentials are set; the console without any
    (and always for `newsbot console`, which never starts a chat adapter)."""
    deliverers: list[Deliverer] = []
    slack = None if console_only else slack or slack_side(settings, handle)
    if slack is not None:
        deliverers.append(
            SlackDeliverer(
                apis=slack.apis,
                client=handle.client,
                keys=handle.keys,
                retention_days=settings.retention_days,
            )
        )
    if discord_rest is not None and not console_only:
        rest = discord_rest
        deliverers.append(
            DiscordDeliverer(
                rest=rest,
                login=lambda: log_in(rest, settings),
                client=handle.client,
                keys=handle.keys,
                retention_days=settings.retention_days,
            )
        )
    if not deliverers:
        deliverers.append(ConsoleDeliverer(handle.client, handle.keys, out=console_out))
    return deliverers


def slack_commands(settings: Settings, bot: RunningBot, slack: SlackSide) -> AsyncApp:
    """The bolt app answering `/news` through the command core (HTTP or Socket Mode);
    in OAuth mode, with the install flow, each request authorized by its workspace."""
    core = bot.command_core(settings)
    socket_mode = settings.slack_app_token is not None  # it wins when both are set
    secret = settings.slack_signing_secret
    client = (
        AsyncWebClient(base_url=settings.slack_api_url)
        if slack.oauth is not None
        else api_client(settings)
    )
    return build_app(
        client=client,
        apis=slack.apis,
        core=core,
        signing_secret=None if socket_mode or secret is None else secret.reveal(),
        admins=Admins(slack.apis),
        replays=ReplayGuard(bot.handle.client, bot.handle.keys),
        oauth=slack.oauth,
    )


def address_policy(settings: Settings) -> AddressPolicy:
    return allow_any if settings.allow_private_networks else public_only


@dataclass
class RunningBot:
    """Handles on a started bot, for /healthz and for tests."""

    handle: RedisHandle
    metrics: Metrics
    fetcher: Fetcher
    abstractive: LLMSummarizer | None = None
    router: Router | None = None  # one of each for the roles and the command core
    scheduler: Scheduler | None = None
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    states: dict[str, RoleState] = field(default_factory=dict)
    checks: dict[str, Callable[[], bool]] = field(default_factory=dict)  # adapters' health
    http_port: int | None = None
    discord_gateway: Gateway | None = None
    slack: SlackSide | None = None

    def start(self, name: str, run: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
        """Run a role under supervision: restarted, with backoff, if it ever ends early."""
        state = self.states[name] = RoleState()
        self.tasks[name] = asyncio.create_task(supervise(name, run, stop, state), name=name)

    async def health(self) -> dict[str, Any]:
        """/healthz's report. It reads Redis through the probe pool only (never the
        roles'), and the HTTP handler serves it from a one-second cache."""
        redis_ok = await self.handle.ping()
        roles = {
            name: not task.done() and not self.states[name].waiting
            for name, task in self.tasks.items()
        }
        checks = {name: check() for name, check in self.checks.items()}
        report: dict[str, Any] = {
            "ok": redis_ok and all(roles.values()) and all(checks.values()),
            "redis": redis_ok,
            "roles": roles,
        }
        if checks:
            report["checks"] = checks
        with contextlib.suppress(RedisError):
            lags = await outbox_lags(self.handle.prober, self.handle.keys, now=time.time())
            report["outbox"] = {lag.platform: lag.report() for lag in lags}
            backlog = int(await self.handle.prober.xlen(self.handle.keys.entries))
            # Over the limit, pollers claim no feeds until the pipeline catches up.
            report["pipeline"] = {"entries": backlog, "polling_held_back": backlog > BACKLOG_MAX}
        restarted = {n: s.report() for n, s in self.states.items() if s.restarts}
        if restarted:
            report["restarts"] = restarted
        return report

    def command_core(self, settings: Settings) -> CommandCore:
        """The `/news` command core on this bot's Redis, fetcher and summariser."""
        client, keys = self.handle.client, self.handle.keys
        return CommandCore(
            client=client,
            keys=keys,
            settings=settings,
            fetcher=self.fetcher,
            abstractive=self.abstractive,
            poller=poller_for(
                settings, client=client, keys=keys, fetcher=self.fetcher, metrics=self.metrics
            ),
            router=self.router,
            scheduler=self.scheduler,
        )

    async def metrics_text(self) -> bytes:
        with contextlib.suppress(RedisError, OSError):
            self.metrics.stream_lag.set(await self.handle.prober.xlen(self.handle.keys.entries))
        return self.metrics.render()


async def run_bot(
    settings: Settings,
    *,
    roles: tuple[str, ...] = ROLES,
    stop: asyncio.Event,
    policy: AddressPolicy | None = None,
    on_started: Callable[[RunningBot], Awaitable[None]] | None = None,
    clock: Callable[[], float] = time.time,
    plan: ConfigPlan | None = None,
    console_out: TextIO | None = None,
    serve_http: bool = True,
    console_only: bool = False,
) -> None:
    """Run the chosen roles until `stop` is set, then shut down in order."""
    favour_the_loop()
    metrics = Metrics()
    async with (
        open_redis(settings) as handle,
        Fetcher(policy=policy or address_policy(settings)) as fetcher,
        contextlib.AsyncExitStack() as stack,
    ):
        bot = RunningBot(handle=handle, metrics=metrics, fetcher=fetcher)
        runner: web.AppRunner | None = None
        watchers: list[asyncio.Task[None]] = []

        async def shut_down() -> None:
            # Also when starting failed half-way (a port in use) or on_started raised:
            # every role and watcher ends before Redis and the fetcher close.
            log.info("newsbot stopping")
            stop.set()
            await asyncio.gather(*bot.tasks.values(), *watchers, return_exceptions=True)
            if runner is not None:
                await runner.cleanup()

        await ensure_group(handle.client, handle.keys)
        bot.router = router = router_for(settings, handle.client, handle.keys, clock=clock)
        bot.scheduler = scheduler_for(settings, handle.client, handle.keys, clock=clock)
        if plan is not None:

            async def seed(subscription: Subscription) -> int:
                return await router.seed(subscription, newest=settings.first_fetch_max)

            touched = await apply_config(
                plan,
                watchlist=Watchlist(handle.client, handle.keys),
                subscriptions=SubscriptionStore(handle.client, handle.keys),
                now=clock(),
                seed=seed,
            )
            if plan.feeds or plan.channels:
                log.info(
                    "applied newsbot.toml",
                    extra={"feeds": len(plan.feeds), "subscriptions": touched},
                )
        if settings.llm_url and settings.llm_model:
            llm_session = await stack.enter_async_context(aiohttp.ClientSession())
            bot.abstractive = LLMSummarizer(
                settings=settings,
                client=handle.client,
                keys=handle.keys,
                session=llm_session,
                clock=clock,
            )
        discord_on = "chat" in roles and settings.discord_token is not None and not console_only
        # REST also serves the managers' page (who manages which channel), so a process
        # that serves HTTP without the chat role has it too.
        discord_page = serve_http and settings.discord_token is not None and not console_only
        discord_rest = (
            await stack.enter_async_context(rest_client(settings))
            if discord_on or discord_page
            else None
        )
        slack = bot.slack = None if console_only else slack_side(settings, handle)
        # Registered after the LLM session and Discord's client, so it runs first on the
        # way out: roles stop before those, the fetcher and Redis close.
        stack.push_async_callback(shut_down)
        watchers.append(
            asyncio.create_task(
                LoopLag().watch(stop, on_sample=metrics.loop_sample), name="loop-lag"
            )
        )
        if handle.embedded is not None:
            bot.start("embedded redis", partial(watch_embedded, handle.embedded, stop), stop)
        if "poller" in roles:
            poller = poller_for(
                settings,
                client=handle.client,
                keys=handle.keys,
                fetcher=fetcher,
                metrics=metrics,
                clock=clock,
                # A poller that dies mid-poll leaves the feed to the others this much later.
                lease=max(settings.claim_idle, FEED_TIMEOUT + 5),
            )
            bot.start("poller", lambda: poller.run(stop), stop)
        if "pipeline" in roles:
            pipeline = build_pipeline(
                handle.client,
                handle.keys,
                ttl=settings.retention_seconds,
                clock=clock,
                pages=FetcherPages(fetcher),
                abstractive=bot.abstractive,
                instant_burst=settings.instant_burst,
            )
            worker = PipelineWorker(
                client=handle.client,
                blocking=handle.blocking,
                keys=handle.keys,
                pipeline=pipeline,
                backlog_pipeline=build_backlog_pipeline(
                    handle.client, handle.keys, ttl=settings.retention_seconds, clock=clock
                ),
                metrics=metrics,
                claim_idle=settings.claim_idle,
            )
            bot.start("pipeline", lambda: worker.run(stop), stop)
        if "scheduler" in roles:
            scheduler = bot.scheduler
            alert_store = AlertStore(handle.client, handle.keys, ttl=settings.retention_seconds)

            async def schedule() -> None:
                async with asyncio.TaskGroup() as group:
                    group.create_task(run_scheduler(scheduler, handle.client, handle.keys, stop))
                    group.create_task(run_alert_flusher(alert_store, stop))
                    group.create_task(
                        run_refused_cleanup(
                            handle.client, handle.keys, stop, days=settings.refused_channel_days
                        )
                    )

            bot.start("scheduler", schedule, stop)
        slack_mode = "" if "chat" not in roles or console_only else slack_command_mode(settings)
        if "chat" in roles:
            deliverers = chat_deliverers(
                settings,
                handle,
                console_out=console_out,
                console_only=console_only,
                discord_rest=discord_rest,
                slack=slack,
            )
            consumers = [
                OutboxConsumer(
                    client=handle.client,
                    blocking=handle.blocking,
                    keys=handle.keys,
                    deliverer=deliverer,
                    consumer=consumer_name(),
                    ttl=settings.retention_seconds,
                    claim_idle=settings.claim_idle,
                    max_attempts=settings.delivery_max_attempts,
                    probe_every=settings.refused_probe,
                    burst=settings.instant_burst,
                )
                for deliverer in deliverers
            ]
            for deliverer in deliverers:
                if isinstance(deliverer, SlackDeliverer):
                    bot.checks["slack token"] = deliverer.token_works
                if isinstance(deliverer, DiscordDeliverer):
                    bot.checks["discord token"] = deliverer.token_works

            slack_app = (
                slack_commands(settings, bot, slack)
                if slack_mode == "socket" and slack is not None
                else None
            )
            socket_status = SocketStatus()
            if slack_app is not None:
                bot.checks["slack socket"] = socket_status.ok
            gateway = (
                Gateway(
                    settings=settings,
                    client=handle.client,
                    keys=handle.keys,
                    core=bot.command_core(settings),
                    holder=f"{consumer_name()}-{uuid.uuid4().hex[:6]}",
                )
                if discord_on
                else None
            )
            bot.discord_gateway = gateway
            listers: list[MemberLister] = []
            if slack is not None:
                listers.append(SlackMembers(slack.apis))
            if discord_rest is not None:
                listers.append(DiscordMembers(discord_rest))

            # Each chat component is supervised on its own (restarted with backoff, its own
            # /healthz entry), so a failure in one never cancels another's send.
            for deliverer, consumer in zip(deliverers, consumers, strict=True):
                bot.start(f"chat:{deliverer.platform} outbox", partial(consumer.run, stop), stop)
            if slack_app is not None and settings.slack_app_token is not None:
                token = settings.slack_app_token.reveal()
                bot.start(
                    "chat:slack socket",
                    partial(
                        run_socket_mode, slack_app, app_token=token, stop=stop, status=socket_status
                    ),
                    stop,
                )
            if gateway is not None:
                bot.start("chat:discord gateway", partial(gateway.run, stop), stop)
            for lister in listers:
                bot.start(
                    f"chat:{lister.platform} members",
                    partial(run_member_refresher, handle.client, handle.keys, lister, stop),
                    stop,
                )
            bot.start(
                "chat:outbox lag",
                partial(
                    watch_outboxes,
                    handle.client,
                    handle.keys,
                    stop,
                    delivering=[d.platform for d in deliverers],
                    clock=clock,
                ),
                stop,
            )
        posts: dict[str, Handler] = {}
        gets: dict[str, Handler] = {}
        secret = settings.slack_signing_secret
        if slack_mode == "http" and secret is not None and slack is not None:
            http_app = slack_commands(settings, bot, slack)
            posts["/slack/events"] = events_handler(
                http_app,
                signing_secret=secret.reveal(),
                replays=ReplayGuard(handle.client, handle.keys),
            )
            if slack.oauth is not None:
                gets.update(oauth_routes(http_app))
        if serve_http:
            runner = await start_http(
                build_http_app(
                    health=bot.health,
                    metrics=bot.metrics_text,
                    posts=posts,
                    gets=gets,
                    ui=build_ui_app(
                        settings,
                        handle.client,
                        handle.keys,
                        health=bot.health,
                        access=page_access(settings, handle, discord_rest, slack),
                    ),
                ),
                port=settings.http_port,
                host=settings.http_host,
            )
            bot.http_port = int(runner.addresses[0][1]) if runner.addresses else settings.http_port
        log.info(
            "newsbot running",
            extra={
                "roles": ",".join(roles),
                "redis": handle.shown,
                "http_port": bot.http_port,
            },
        )
        if on_started is not None:
            await on_started(bot)
        await stop.wait()


def page_access(
    settings: Settings,
    handle: RedisHandle,
    discord_rest: discord.Client | None,
    slack: SlackSide | None,
) -> dict[str, ManagedChannels]:
    """How each platform newsbot runs here answers which channels a member manages, for
    the managers' page."""
    access: dict[str, ManagedChannels] = {}
    managers = frozenset(settings.managers)
    if slack is not None:
        access["slack"] = SlackPageAccess(
            admins=Admins(slack.apis),
            members=SlackMembers(slack.apis),
            managers=managers,
            client=handle.client,
            keys=handle.keys,
        )
    if discord_rest is not None:
        access["discord"] = DiscordPageAccess(discord_rest, managers=managers)
    return access


def install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
