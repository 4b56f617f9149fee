"""The /ui/ application: signing in with a one-time link, sessions, and strict headers.

- ``GET /ui/login?t=…`` shows a "Sign in to newsbot" page and uses nothing up (link
  previewers and mail scanners open links); only its form's ``POST /ui/login`` redeems the
  link (`bot.store.ui_auth`) and sets the session cookie: 8 hours, HttpOnly,
  SameSite=Lax, Secure when `NEWSBOT_PUBLIC_URL` is https. Sign-ins are limited per
  client address (429 past the limit).
- Every other POST carries the session's CSRF token, checked before anything runs.
- Every response carries a Content-Security-Policy with no inline script, ``X-Frame-Options:
  DENY``, ``Referrer-Policy: no-referrer`` and ``X-Content-Type-Options: nosniff``.
- Pages are rendered on the server from Jinja2 templates with autoescaping on.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.commands.channel_settings import ChannelSettingsCommands
from bot.roles.scheduler import scheduler_for
from bot.settings import Settings
from bot.store.audience import AudienceStore
from bot.store.holds import HoldStore, platform_of
from bot.store.keys import Keys
from bot.store.search_index import SearchIndex
from bot.store.subscriptions import SubscriptionStore
from bot.store.ui_auth import SESSION_SECONDS, Scope, Session, UiAuth
from bot.web.channels_page import channel_views
from bot.web.feeds_page import DAYS, feed_rows
from bot.web.stories_page import channel_stories
from handlers.channels import ChannelError, ChannelRef, check_filter
from handlers.query import MAX_QUERY

log = logging.getLogger(__name__)

COOKIE = "newsbot_session"
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def scope_text(scope: Scope) -> str:
    if scope.operator:
        return "the operator (every workspace)"
    return f"{scope.user} in {scope.platform} workspace {scope.workspace}"


class Pages:
    """Renders the templates, escaped."""

    def __init__(self, base: str) -> None:
        self._base = base
        self._env = jinja2.Environment(
            loader=jinja2.PackageLoader("bot.web", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    def render(self, name: str, *, status: int = 200, **values: Any) -> web.Response:
        """`name` filled with `values` (escaped), as an HTML response."""
        values = {"base": self._base, "who": "", "csrf": "", **values}
        body = self._env.get_template(name).render(**values)
        return web.Response(text=body, status=status, content_type="text/html")

    def message(self, heading: str, text: str, *, status: int) -> web.Response:
        return self.render("message.html", heading=heading, text=text, status=status)


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


def build_ui_app(
    settings: Settings,
    client: Redis,
    keys: Keys,
    *,
    health: Callable[[], Awaitable[dict[str, Any]]] | None = None,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    """The /ui/ sub-application, on newsbot's Redis; `health` is the running bot's
    /healthz report (its deliveries, roles and checks)."""
    auth = UiAuth(client, keys, clock=clock)
    scheduler = scheduler_for(settings, client, keys, clock=clock)
    audiences = AudienceStore(client, keys, clock=clock)
    search = SearchIndex(client, keys, ttl=settings.retention_seconds, clock=clock)
    filter_settings = ChannelSettingsCommands(client, keys, clock=clock)
    base = settings.page_url
    secure = base.startswith("https://")
    pages = Pages(base)

    @web.middleware
    async def strict_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # a 404 or 405 of the router
            exc.headers.update(HEADERS)
            raise
        response.headers.update(HEADERS)
        return response

    @web.middleware
    async def csrf_checked(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "POST" and request.path != "/ui/login":
            session = await _session(request, auth)
            form = await request.post()
            token = str(form.get("csrf", ""))
            if session is None or not hmac.compare_digest(token, session.csrf):
                return pages.message(
                    "Refused", "This form is out of date; reload the page.", status=403
                )
        return await handler(request)

    async def login_page(request: web.Request) -> web.Response:
        token = request.query.get("t", "")
        scope = await auth.peek(token)
        if scope is None:
            return _expired(pages)
        return pages.render("signin.html", token=token, scope_text=scope_text(scope))

    async def login(request: web.Request) -> web.Response:
        if not await auth.may_sign_in(client_address(request)):
            return pages.message(
                "Too many sign-ins", "Too many sign-ins from here; wait a minute.", status=429
            )
        form = await request.post()
        scope = await auth.redeem(str(form.get("t", "")))
        if scope is None:
            return _expired(pages)
        cookie, _session_made = await auth.start_session(scope)
        response = _see(f"{base}/ui/")
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=SESSION_SECONDS,
            path="/ui",
            httponly=True,
            samesite="Lax",
            secure=secure,
        )
        return response

    async def logout(request: web.Request) -> web.Response:
        await auth.end_session(request.cookies.get(COOKIE, ""))
        response = _see(f"{base}/ui/signed-out")
        response.del_cookie(COOKIE, path="/ui")
        return response

    async def signed_out(_request: web.Request) -> web.Response:
        return pages.message(
            "Signed out", "Ask for a new link in chat with /news dashboard.", status=200
        )

    async def home(request: web.Request) -> web.Response:
        session = await _session(request, auth)
        if session is None:
            return _not_signed_in(pages)
        who = scope_text(session.scope)
        return pages.render("home.html", who=who, csrf=session.csrf)

    async def feeds(request: web.Request) -> web.Response:
        session = await _operator(request, auth, pages)
        if not isinstance(session, Session):
            return session
        rows = await feed_rows(client, keys, clock())
        return pages.render(
            "feeds.html",
            who=scope_text(session.scope),
            csrf=session.csrf,
            rows=rows,
            failing=sum(1 for row in rows if row.failing),
            days=DAYS,
        )

    async def channels(request: web.Request) -> web.Response:
        session = await _operator(request, auth, pages)
        if not isinstance(session, Session):
            return session
        views = await channel_views(client, keys, scheduler, retention=settings.retention_seconds)
        return pages.render(
            "channels.html", who=scope_text(session.scope), csrf=session.csrf, channels=views
        )

    async def stories(request: web.Request) -> web.Response:
        session = await _operator(request, auth, pages)
        if not isinstance(session, Session):
            return session
        known = sorted(str(c) for c in await client.smembers(keys.channels))
        chosen = request.query.get("channel", "")
        query = request.query.get("q", "").strip()[:MAX_QUERY]
        shown: dict[str, Any] = {
            "channels": known,
            "channel": "",
            "query": query,
            "items": (),
            "problem": "",
            "heading": "",
            "partial": False,
        }
        if chosen and chosen not in known:
            shown["problem"] = "newsbot knows no such channel"
        elif chosen:
            found = await channel_stories(
                client,
                keys,
                audiences,
                search,
                ChannelRef.parse(chosen),
                query,
                budget_ms=settings.search_budget_ms,
            )
            shown |= {
                "channel": chosen,
                "heading": found.heading,
                "items": found.items,
                "partial": found.partial,
                "problem": found.problem,
            }
        return pages.render(
            "stories.html", who=scope_text(session.scope), csrf=session.csrf, **shown
        )

    async def dead_letter(request: web.Request) -> web.Response:
        """Retry or drop one dead letter of a channel (the CSRF token was checked)."""
        session = await _operator(request, auth, pages)
        if not isinstance(session, Session):
            return session
        form = await request.post()
        channel, letter_id = str(form.get("channel", "")), str(form.get("id", ""))
        action = str(form.get("action", ""))
        holds = HoldStore(client, keys, ttl=settings.retention_seconds)
        platform = platform_of(channel) if channel.count(":") >= 2 else ""
        letter = await holds.dead_letter_by_id(platform, letter_id) if platform else None
        if letter is None or letter.channel != channel or action not in {"retry", "drop"}:
            return pages.message(
                "Nothing to do", "That dead letter is gone (retried or dropped).", status=404
            )
        if action == "retry":
            await holds.retry_dead(letter, platform)
            await holds.probe_now([channel])
        else:
            await holds.drop_dead(letter, platform)
        log.info(
            "a dead letter was %s from the web page",
            "queued again" if action == "retry" else "dropped",
            extra={"channel": channel, "letter": letter_id, "user": session.scope.user},
        )
        return _see(f"{base}/ui/channels#{quote(channel)}")

    async def subscription(request: web.Request) -> web.Response:
        """Pause or resume one channel's subscription (never the feed: other channels
        share it; the CSRF token was checked)."""
        session = await _operator(request, auth, pages)
        if not isinstance(session, Session):
            return session
        form = await request.post()
        channel, feed_id = str(form.get("channel", "")), str(form.get("feed", ""))
        action = str(form.get("action", ""))
        store = SubscriptionStore(client, keys)
        try:
            ref = ChannelRef.parse(channel)
        except ValueError:
            ref = None
        sub = await store.get(ref, feed_id) if ref is not None else None
        if ref is None or sub is None or action not in {"pause", "resume"}:
            return pages.message("Nothing to do", "That subscription is gone.", status=404)
        await store.subscribe(ref, feed_id, now=clock(), paused=action == "pause")
        log.info(
            "a subscription was %s from the web page",
            "paused" if action == "pause" else "resumed",
            extra={"channel": channel, "feed": feed_id, "user": session.scope.user},
        )
        return _see(f"{base}/ui/channels#{quote(channel)}")

    async def filter_test(request: web.Request) -> web.Response:
        """Which of a feed's last stories a filter would pass, for one channel's
        subscription; changes nothing (the CSRF token was checked)."""
        session = await _operator(request, auth, pages)
        if not isinstance(session, Session):
            return session
        form = await request.post()
        channel, feed_id = str(form.get("channel", "")), str(form.get("feed", ""))
        query = str(form.get("query", "")).strip()[:MAX_QUERY]
        try:
            ref: ChannelRef | None = ChannelRef.parse(channel)
        except ValueError:
            ref = None
        if ref is None or await SubscriptionStore(client, keys).get(ref, feed_id) is None:
            return pages.message("Nothing to test", "That subscription is gone.", status=404)
        problem, results = "", []
        try:
            check_filter(query)
            results = await filter_settings.filter_test(feed_id, query)
        except ChannelError as exc:
            problem = str(exc)
        return pages.render(
            "filter_test.html",
            who=scope_text(session.scope),
            csrf=session.csrf,
            channel=channel,
            feed=feed_id,
            query=query,
            problem=problem if query else "give a filter to test",
            results=results,
            passed=sum(ok for ok, _ in results),
        )

    async def health_page(request: web.Request) -> web.Response:
        session = await _operator(request, auth, pages)
        if not isinstance(session, Session):
            return session
        report = await health() if health is not None else {"ok": True, "redis": True}
        try:
            info = await client.info("memory")
            if "used_memory_human" not in info and info:  # a cluster: one reply per node
                info = next(iter(info.values()))
            memory = str(info.get("used_memory_human", "unknown"))
        except RedisError:
            memory = "unknown (Redis does not answer)"
        return pages.render(
            "health.html",
            who=scope_text(session.scope),
            csrf=session.csrf,
            ok=bool(report.get("ok")),
            redis=bool(report.get("redis")),
            outbox=report.get("outbox") or {},
            roles=report.get("roles") or {},
            checks=report.get("checks") or {},
            pipeline=report.get("pipeline") or {},
            memory=memory,
        )

    async def stylesheet(_request: web.Request) -> web.Response:
        css = resources.files("bot.web").joinpath("static/newsbot.css").read_text("utf-8")
        return web.Response(text=css, content_type="text/css")

    app = web.Application(middlewares=[strict_headers, csrf_checked])
    app.router.add_get("/", home)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/signed-out", signed_out)
    app.router.add_get("/feeds", feeds)
    app.router.add_get("/channels", channels)
    app.router.add_get("/stories", stories)
    app.router.add_post("/dead-letter", dead_letter)
    app.router.add_post("/subscription", subscription)
    app.router.add_get("/health", health_page)
    app.router.add_post("/filter-test", filter_test)
    app.router.add_get("/static/newsbot.css", stylesheet)
    return app


async def _operator(request: web.Request, auth: UiAuth, pages: Pages) -> Session | web.Response:
    """The operator's session, or the page that says why not."""
    session = await _session(request, auth)
    if session is None:
        return _not_signed_in(pages)
    if not session.scope.operator:
        return pages.message(
            "Not for this sign-in",
            "Every workspace's feeds and channels are the operator's (newsbot dashboard).",
            status=403,
        )
    return session


def _not_signed_in(pages: Pages) -> web.Response:
    return pages.message(
        "Not signed in",
        "Sign in with the link that newsbot dashboard (or, in chat, /news dashboard) gives.",
        status=401,
    )


def _see(location: str) -> web.Response:
    """303 See Other: after a POST, the browser GETs `location`."""
    return web.Response(status=303, headers={"Location": location})


def _expired(pages: Pages) -> web.Response:
    return pages.message(
        "This link no longer works",
        "A sign-in link works once, for 15 minutes. Ask for a new one in chat with "
        "/news dashboard.",
        status=410,
    )


async def _session(request: web.Request, auth: UiAuth) -> Session | None:
    return await auth.session(request.cookies.get(COOKIE, ""))
