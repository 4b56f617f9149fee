"""The HTTP endpoints on NEWSBOT_HTTP_PORT: /healthz, /metrics, and what adapters add
(`POST /slack/events` in Slack's HTTP mode)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

HealthCheck = Callable[[], Awaitable[dict[str, Any]]]
MetricsText = Callable[[], Awaitable[bytes]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_http_app(
    *, health: HealthCheck, metrics: MetricsText, posts: Mapping[str, Handler] | None = None
) -> web.Application:
    """An aiohttp application serving health (200 or 503, JSON) and Prometheus metrics."""

    async def healthz(_request: web.Request) -> web.Response:
        report = await health()
        return web.json_response(report, status=200 if report.get("ok") else 503)

    async def metrics_view(_request: web.Request) -> web.Response:
        return web.Response(
            body=await metrics(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)
    for path, handler in (posts or {}).items():
        app.router.add_post(path, handler)
    return app


async def start_http(app: web.Application, *, port: int, host: str = "0.0.0.0") -> web.AppRunner:  # noqa: S104
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host=host, port=port)
    await site.start()
    return runner
