"""The HTTP endpoints on NEWSBOT_HTTP_PORT: /healthz, /metrics, the managers' page under
/ui/ (`bot.web`), and what adapters add (`POST /slack/events` in Slack's HTTP mode)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

from aiohttp import web

from bot.http_guard import ConnectionLimits, guarded

# An idle keep-alive connection is closed after this many seconds (aiohttp's default: 75).
KEEPALIVE = 15.0
CACHE_SECONDS = 1.0
HealthCheck = Callable[[], Awaitable[dict[str, Any]]]
MetricsText = Callable[[], Awaitable[bytes]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_http_app(
    *,
    health: HealthCheck,
    metrics: MetricsText,
    posts: Mapping[str, Handler] | None = None,
    gets: Mapping[str, Handler] | None = None,
    ui: web.Application | None = None,
) -> web.Application:
    """An aiohttp application serving health (200 or 503, JSON) and Prometheus metrics,
    each computed at most once a second however many ask at once (`Cached`), the
    adapters' routes (`posts`, and `gets` such as Slack's install pages), and the
    managers' page under /ui/ (`bot.web`)."""
    cached_health, cached_metrics = Cached(health), Cached(metrics)

    async def healthz(_request: web.Request) -> web.Response:
        report = await cached_health()
        return web.json_response(report, status=200 if report.get("ok") else 503)

    async def metrics_view(_request: web.Request) -> web.Response:
        return web.Response(
            body=await cached_metrics(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)
    for path, handler in (posts or {}).items():
        app.router.add_post(path, handler)
    for path, handler in (gets or {}).items():
        app.router.add_get(path, handler)
    if ui is not None:
        app.add_subapp("/ui/", ui)
    return app


T = TypeVar("T")


class Cached(Generic[T]):
    """An answer computed once per `ttl` seconds; callers that come while it is computed
    wait for that one computation (a flood of requests is one Redis read a second)."""

    def __init__(self, compute: Callable[[], Awaitable[T]], ttl: float = CACHE_SECONDS) -> None:
        self._compute = compute
        self._ttl = ttl
        self._value: T | None = None
        self._at = -1e9
        self._lock = asyncio.Lock()

    async def __call__(self) -> T:
        loop = asyncio.get_running_loop()
        async with self._lock:
            if self._value is None or loop.time() - self._at >= self._ttl:
                self._value = await self._compute()
                self._at = loop.time()
            return self._value


class GuardedSite(web.TCPSite):
    """A TCP site whose connections go through `bot.http_guard` (a header deadline and a
    connection cap) before aiohttp's own protocol."""

    def __init__(
        self, runner: web.AppRunner, *, host: str, port: int, limits: ConnectionLimits
    ) -> None:
        super().__init__(runner, host=host, port=port)
        self.limits = limits

    async def start(self) -> None:
        self._runner._reg_site(self)
        server = self._runner.server
        if server is None:
            raise RuntimeError("the HTTP runner is not set up")
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            guarded(server, self.limits), self._host, self._port, reuse_address=True
        )
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port


async def start_http(
    app: web.Application,
    *,
    port: int,
    host: str = "127.0.0.1",
    limits: ConnectionLimits | None = None,
) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=KEEPALIVE)
    await runner.setup()
    site = GuardedSite(runner, host=host, port=port, limits=limits or ConnectionLimits())
    await site.start()
    return runner
