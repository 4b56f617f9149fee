"""Socket Mode: `/news` arrives over a websocket (no public URL needed), until `stop`.

slack_sdk's client retries a failed connection forever, with a traceback each time, and
does not know about `stop`. So newsbot asks for a connection itself first
(`apps.connections.open` with the app token), under `stop`:

- a refused app token is a configuration problem: one log line a minute, no traceback,
  and `checks.slack socket: false` in `/healthz`, until the token works;
- Slack out of reach: retried with backoff (1 s doubling to a minute), also unhealthy;
- once Slack hands out connections, slack_sdk connects and reconnects by itself.

Setting `stop` ends every step at once, and closing the socket is bounded, so SIGTERM ends
the process within seconds whatever Slack does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Literal

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.platforms.slack_adapter.check import UNREACHABLE
from bot.stopping import Stopped, sleep_unless_stopped, unless_stopped

log = logging.getLogger(__name__)

REFUSED_RETRY = 60.0  # a refused app token is tried again (and logged) once a minute
BACKOFF_MAX = 60.0
CLOSE_TIMEOUT = 5.0


@dataclass
class SocketStatus:
    """Whether the Socket Mode connection works, for `/healthz` (`checks.slack socket`)."""

    problem: str = ""

    def ok(self) -> bool:
        return not self.problem


async def run_socket_mode(
    app: AsyncApp, *, app_token: str, stop: asyncio.Event, status: SocketStatus | None = None
) -> None:
    """Keep a Socket Mode connection until `stop` (see the module docstring)."""
    status = status or SocketStatus()
    backoff = 1.0
    while not stop.is_set():
        outcome = await _connections_open(app.client.base_url, app_token, status, stop)
        if outcome == "open":
            await _serve(app, app_token, stop)
        elif outcome == "refused":
            await sleep_unless_stopped(stop, REFUSED_RETRY)
            backoff = 1.0
        elif outcome == "unreachable":
            await sleep_unless_stopped(stop, backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)
        else:
            return


Outcome = Literal["open", "refused", "unreachable", "stopped"]


async def _connections_open(
    base_url: str, app_token: str, status: SocketStatus, stop: asyncio.Event
) -> Outcome:
    """Whether Slack hands out Socket Mode connections for the app token now."""
    client = AsyncWebClient(token=app_token, base_url=base_url, timeout=30)
    try:
        await unless_stopped(stop, client.apps_connections_open(app_token=app_token))
    except Stopped:
        return "stopped"
    except SlackApiError as exc:
        error = exc.response.get("error", "error") if exc.response is not None else "error"
        status.problem = f"the app token is refused ({error})"
        log.error(
            "Slack refuses SLACK_APP_TOKEN (it needs the connections:write scope); "
            "no /news commands until it works; trying again in a minute",
            extra={"error": str(error)},
        )
        return "refused"
    except UNREACHABLE as exc:
        status.problem = "Slack cannot be reached"
        log.warning(
            "cannot reach Slack for Socket Mode; retrying",
            extra={"error": (str(exc) or type(exc).__name__).splitlines()[0][:200]},
        )
        return "unreachable"
    status.problem = ""
    return "open"


async def _serve(app: AsyncApp, app_token: str, stop: asyncio.Event) -> None:
    """Connect through slack_sdk (which reconnects by itself) and serve until `stop`."""
    handler = AsyncSocketModeHandler(app, app_token)
    try:
        await unless_stopped(stop, handler.connect_async())  # type: ignore[no-untyped-call]
        log.info("connected to Slack in Socket Mode")
        await stop.wait()
    except Stopped:
        pass
    finally:
        with contextlib.suppress(TimeoutError, *UNREACHABLE):
            await asyncio.wait_for(handler.close_async(), CLOSE_TIMEOUT)  # type: ignore[no-untyped-call]
