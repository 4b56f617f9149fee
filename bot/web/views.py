"""The pages and safe actions of /ui/, each for the channels its session may see.

The operator (`newsbot dashboard`) sees every channel. A member sees the channels of
their workspace that their platform says they manage now, a private one only while they
are a member (`ManagedChannels`, asked on every request; a platform newsbot does not run
here answers none). So no other workspace's channel is reachable by editing a URL: every
page and action takes its channels from that list, and anything else is "not found".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast
from urllib.parse import quote

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.commands.channel_settings import ChannelSettingsCommands
from bot.roles.outbox_lag import channels_lag, duration
from bot.roles.scheduler import scheduler_for
from bot.settings import Settings
from bot.store.audience import AudienceStore
from bot.store.holds import HoldStore, platform_of
from bot.store.keys import Keys
from bot.store.search_index import SearchIndex
from bot.store.subscriptions import SubscriptionStore
from bot.store.ui_auth import ManagedChannels, Session
from bot.web.channels_page import channel_views
from bot.web.feeds_page import DAYS, DayCounts, feed_rows
from bot.web.pages import Pages, html, scope_text
from bot.web.stories_page import channel_stories
from handlers.channels import ChannelError, ChannelRef, check_filter
from handlers.query import MAX_QUERY

log = logging.getLogger(__name__)

HealthReport = Callable[[], Awaitable[dict[str, Any]]]
SessionOf = Callable[[web.Request], Awaitable[Session | None]]
GONE = "That is not one of the channels you manage here, or it is gone."
FRESH = 30.0  # seconds a page is reused (a page refreshed every second costs a 30th)
CACHED_PAGES = 256
T = TypeVar("T")


class Views:
    def __init__(
        self,
        settings: Settings,
        client: Redis,
        keys: Keys,
        *,
        pages: Pages,
        session_of: SessionOf,
        access: Mapping[str, ManagedChannels],
        health: HealthReport | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._client = client
        self._keys = keys
        self._pages = pages
        self._session_of = session_of
        self._access = access
        self._health = health
        self._clock = clock
        self._base = settings.page_url
        self._scheduler = scheduler_for(settings, client, keys, clock=clock)
        self._audiences = AudienceStore(client, keys, clock=clock)
        self._search = SearchIndex(client, keys, ttl=settings.retention_seconds, clock=clock)
        self._filters = ChannelSettingsCommands(client, keys, clock=clock)
        self._holds = HoldStore(client, keys, ttl=settings.retention_seconds)
        self._subscriptions = SubscriptionStore(client, keys)
        self._day_counts = DayCounts(client, keys)
        self._cache: dict[tuple[Any, ...], tuple[float, Any]] = {}

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/", self.home)
        app.router.add_get("/feeds", self.feeds)
        app.router.add_get("/channels", self.channels)
        app.router.add_get("/stories", self.stories)
        app.router.add_get("/health", self.health)
        app.router.add_post("/dead-letter", self.dead_letter)
        app.router.add_post("/subscription", self.subscription)
        app.router.add_post("/filter-test", self.filter_test)

    # Who sees what ------------------------------------------------------------------------

    async def _signed_in(self, request: web.Request) -> tuple[Session, list[str]] | web.Response:
        """The session and the channels it may see now, or the page that says why not."""
        session = await self._session_of(request)
        if session is None:
            return self._pages.message(
                "Not signed in",
                "Sign in with the link that /news dashboard (or newsbot dashboard) gives.",
                status=401,
            )
        known = sorted(str(c) for c in await self._client.smembers(self._keys.channels))
        scope = session.scope
        if scope.operator:
            return session, known
        mine = [c for c in known if c.startswith(f"{scope.platform}:{scope.workspace}:")]
        ask = self._access.get(scope.platform)
        allowed = await ask(scope, mine) if ask is not None and mine else set()
        return session, [c for c in mine if c in allowed]

    async def _cached(self, key: tuple[Any, ...], compute: Callable[[], Awaitable[T]]) -> T:
        """What `compute` gives, reused for `FRESH` seconds for the same key (a page, the
        channels it shows, its query); any action through the page clears it."""
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < FRESH:
            return cast(T, hit[1])
        value = await compute()
        if len(self._cache) >= CACHED_PAGES:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = (now, value)
        return value

    async def _page(
        self,
        key: tuple[Any, ...],
        session: Session,
        name: str,
        values: Callable[[], Awaitable[dict[str, Any]]],
    ) -> web.Response:
        """A page whose data and HTML are reused for `FRESH` seconds, per session (its
        CSRF token is in the HTML) and per what it shows."""

        async def text() -> str:
            made = time.strftime("%H:%M:%S UTC", time.gmtime(self._clock()))
            return self._pages.text(
                name,
                who=scope_text(session.scope),
                csrf=session.csrf,
                made=made,
                fresh=int(FRESH),
                **await values(),
            )

        return html(await self._cached((*key, session.csrf), text))

    def _render(self, name: str, session: Session, **values: Any) -> web.Response:
        return self._pages.render(name, who=scope_text(session.scope), csrf=session.csrf, **values)

    # Pages ---------------------------------------------------------------------------------

    async def home(self, request: web.Request) -> web.Response:
        signed = await self._signed_in(request)
        if isinstance(signed, web.Response):
            return signed
        session, channels = signed
        return self._render("home.html", session, channels=len(channels))

    async def feeds(self, request: web.Request) -> web.Response:
        signed = await self._signed_in(request)
        if isinstance(signed, web.Response):
            return signed
        session, channels = signed
        operator = session.scope.operator

        async def values() -> dict[str, Any]:
            only = None
            if not operator:
                only = set()
                for channel in channels:
                    subs = await self._subscriptions.of_channel(ChannelRef.parse(channel))
                    only |= {sub.feed_id for sub in subs}
            rows = await feed_rows(
                self._client, self._keys, self._clock(), only=only, day_counts=self._day_counts
            )
            failing = sum(1 for row in rows if row.failing)
            return {"rows": rows, "failing": failing, "days": DAYS}

        return await self._page(("feeds", tuple(channels)), session, "feeds.html", values)

    async def channels(self, request: web.Request) -> web.Response:
        signed = await self._signed_in(request)
        if isinstance(signed, web.Response):
            return signed
        session, channels = signed

        async def values() -> dict[str, Any]:
            views = await channel_views(
                self._client,
                self._keys,
                self._scheduler,
                retention=self._settings.retention_seconds,
                only=channels,
            )
            return {"channels": views}

        return await self._page(("channels", tuple(channels)), session, "channels.html", values)

    async def stories(self, request: web.Request) -> web.Response:
        signed = await self._signed_in(request)
        if isinstance(signed, web.Response):
            return signed
        session, channels = signed
        chosen = request.query.get("channel", "")
        query = request.query.get("q", "").strip()[:MAX_QUERY]

        async def values() -> dict[str, Any]:
            shown: dict[str, Any] = {
                "channels": channels,
                "channel": "",
                "query": query,
                "items": (),
                "problem": "",
                "heading": "",
                "partial": False,
            }
            if chosen and chosen not in channels:
                shown["problem"] = GONE
            elif chosen:
                found = await channel_stories(
                    self._client,
                    self._keys,
                    self._audiences,
                    self._search,
                    ChannelRef.parse(chosen),
                    query,
                    budget_ms=self._settings.search_budget_ms,
                )
                shown |= {
                    "channel": chosen,
                    "heading": found.heading,
                    "items": found.items,
                    "partial": found.partial,
                    "problem": found.problem,
                }
            return shown

        key = ("stories", tuple(channels), chosen, query)
        return await self._page(key, session, "stories.html", values)

    async def health(self, request: web.Request) -> web.Response:
        """Up or not, and deliveries; the process's internals for the operator only."""
        signed = await self._signed_in(request)
        if isinstance(signed, web.Response):
            return signed
        session, channels = signed
        report = await self._health() if self._health is not None else {"ok": True}
        operator = session.scope.operator
        held = await self._holds.holds(channels)
        dead, waiting, oldest, partial = 0, 0, 0.0, False
        for platform in sorted({platform_of(c) for c in channels}):
            letters = await self._holds.dead_letters(platform)
            dead += sum(1 for letter in letters if letter.channel in set(channels))
            lag = await channels_lag(
                self._client, self._keys, platform, channels, now=self._clock()
            )
            waiting, partial = waiting + lag.waiting, partial or lag.partial
            oldest = max(oldest, lag.oldest_age)
        return self._render(
            "health.html",
            session,
            operator=operator,
            ok=bool(report.get("ok")),
            redis=bool(report.get("redis", True)),
            held=len(held),
            dead=dead,
            waiting=f"{waiting}{' or more' if partial and waiting else ''}",
            oldest=duration(oldest),
            outbox=report.get("outbox") or {} if operator else {},
            roles=report.get("roles") or {} if operator else {},
            checks=report.get("checks") or {} if operator else {},
            pipeline=report.get("pipeline") or {} if operator else {},
            memory=await self._memory() if operator else "",
        )

    async def _memory(self) -> str:
        try:
            info = await self._client.info("memory")
        except RedisError:
            return "unknown (Redis does not answer)"
        if "used_memory_human" not in info and info:  # a cluster: one reply per node
            info = next(iter(info.values()))
        return str(info.get("used_memory_human", "unknown"))

    # Safe actions (POST; the CSRF token was checked by the app's middleware) ---------------

    async def _form(
        self, request: web.Request
    ) -> tuple[Session, ChannelRef, Mapping[str, str]] | web.Response:
        """The session, the channel the form names (one it may see) and the form."""
        signed = await self._signed_in(request)
        if isinstance(signed, web.Response):
            return signed
        session, channels = signed
        form = {k: str(v) for k, v in (await request.post()).items()}
        self._cache.clear()  # what the manager does shows on the next page at once
        channel = form.get("channel", "")
        if channel not in channels:
            return self._pages.message("Not found", GONE, status=404)
        return session, ChannelRef.parse(channel), form

    def _back(self, channel: ChannelRef) -> web.Response:
        return web.Response(
            status=303, headers={"Location": f"{self._base}/ui/channels#{quote(str(channel))}"}
        )

    async def dead_letter(self, request: web.Request) -> web.Response:
        """Retry or drop one dead letter of a channel."""
        got = await self._form(request)
        if isinstance(got, web.Response):
            return got
        session, channel, form = got
        action, letter_id = form.get("action", ""), form.get("id", "")
        platform = channel.platform
        letter = await self._holds.dead_letter_by_id(platform, letter_id)
        if letter is None or letter.channel != str(channel) or action not in {"retry", "drop"}:
            return self._pages.message(
                "Nothing to do", "That dead letter is gone (retried or dropped).", status=404
            )
        if action == "retry":
            await self._holds.retry_dead(letter, platform)
            await self._holds.probe_now([str(channel)])
        else:
            await self._holds.drop_dead(letter, platform)
        log.info(
            "a dead letter was %s from the web page",
            "queued again" if action == "retry" else "dropped",
            extra={"channel": str(channel), "letter": letter_id, "user": session.scope.user},
        )
        return self._back(channel)

    async def subscription(self, request: web.Request) -> web.Response:
        """Pause or resume one channel's subscription (never the feed: others share it)."""
        got = await self._form(request)
        if isinstance(got, web.Response):
            return got
        session, channel, form = got
        feed_id, action = form.get("feed", ""), form.get("action", "")
        if await self._subscriptions.get(channel, feed_id) is None or action not in {
            "pause",
            "resume",
        }:
            return self._pages.message("Nothing to do", "That subscription is gone.", status=404)
        await self._subscriptions.subscribe(
            channel, feed_id, now=self._clock(), paused=action == "pause"
        )
        log.info(
            "a subscription was %s from the web page",
            "paused" if action == "pause" else "resumed",
            extra={"channel": str(channel), "feed": feed_id, "user": session.scope.user},
        )
        return self._back(channel)

    async def filter_test(self, request: web.Request) -> web.Response:
        """Which of a feed's last stories a filter would pass; changes nothing."""
        got = await self._form(request)
        if isinstance(got, web.Response):
            return got
        session, channel, form = got
        feed_id = form.get("feed", "")
        query = form.get("query", "").strip()[:MAX_QUERY]
        if await self._subscriptions.get(channel, feed_id) is None:
            return self._pages.message("Nothing to test", "That subscription is gone.", status=404)
        problem, results = ("" if query else "give a filter to test"), []
        if query:
            try:
                check_filter(query)
                results = await self._filters.filter_test(feed_id, query)
            except ChannelError as exc:
                problem = str(exc)
        return self._render(
            "filter_test.html",
            session,
            channel=str(channel),
            feed=feed_id,
            query=query,
            problem=problem,
            results=results,
            passed=sum(ok for ok, _ in results),
        )
