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
from collections.abc import Awaitable, Callable, Mapping
from importlib import resources

from aiohttp import web
from redis.asyncio import Redis

from bot.settings import Settings
from bot.store.keys import Keys
from bot.store.ui_auth import SESSION_SECONDS, ManagedChannels, Session, UiAuth
from bot.web.pages import Pages, scope_text
from bot.web.views import HealthReport, Views

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
# The page's own files under /ui/static/, and their types: nothing else is served there.
STATIC = {
    "newsbot.css": "text/css",
    "newsbot.js": "text/javascript",
    "newsbot.svg": "image/svg+xml",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


def build_ui_app(
    settings: Settings,
    client: Redis,
    keys: Keys,
    *,
    health: HealthReport | None = None,
    access: Mapping[str, ManagedChannels] | None = None,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    """The /ui/ sub-application, on newsbot's Redis; `health` is the running bot's
    /healthz report, `access` each platform's answer to which channels a member manages."""
    auth = UiAuth(client, keys, clock=clock)
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

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC:
            raise web.HTTPNotFound()
        text = resources.files("bot.web").joinpath(f"static/{name}").read_text("utf-8")
        return web.Response(text=text, content_type=STATIC[name])

    app = web.Application(middlewares=[strict_headers, csrf_checked])
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/signed-out", signed_out)
    app.router.add_get("/static/{name}", static)
    Views(
        settings,
        client,
        keys,
        pages=pages,
        session_of=lambda request: _session(request, auth),
        access=access or {},
        health=health,
        clock=clock,
    ).routes(app)
    return app


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
