"""Keeping each role of `newsbot run` alive: a role that ends unexpectedly is logged with its
traceback and started again, after a pause that doubles while it keeps failing.

The roles guard each item themselves (one feed, one channel, one delivery), so a role that
still ends has met a bug or an outage it did not expect. Before supervision, such a role
ended silently: `/healthz` showed it dead and the rest of the bot went on without it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.stopping import sleep_unless_stopped

log = logging.getLogger(__name__)

FIRST_PAUSE = 1.0
LONGEST_PAUSE = 60.0
# A role that ran this long before failing starts over from the first pause.
HEALTHY_RUN = 300.0


@dataclass
class RoleState:
    """How a supervised role is doing, for `/healthz`."""

    restarts: int = 0
    last_error: str = ""
    waiting: bool = False  # between a failure and the restart

    def report(self) -> dict[str, object]:
        return {"restarts": self.restarts, "last_error": self.last_error}


async def supervise(
    name: str,
    run: Callable[[], Awaitable[None]],
    stop: asyncio.Event,
    state: RoleState,
    *,
    clock: Callable[[], float] = time.monotonic,
    first_pause: float = FIRST_PAUSE,
) -> None:
    """Run `run()` until `stop` is set, starting it again whenever it raises or returns early."""
    pause = first_pause
    while not stop.is_set():
        started = clock()
        try:
            await run()
            failure = None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the role boundary: logged below, then restarted
            failure = exc
        if failure is None and stop.is_set():
            return
        if clock() - started > HEALTHY_RUN:
            pause = first_pause
        extra = {"role": name, "restart_in": pause}
        if failure is not None:
            state.last_error = repr(failure)[:300]
            log.error("role failed; restarting it", exc_info=failure, extra=extra)
        else:
            state.last_error = "ended without being stopped"
            log.error("role ended without being stopped; restarting it", extra=extra)
        state.restarts += 1
        state.waiting = True
        await sleep_unless_stopped(stop, pause)
        state.waiting = False
        pause = min(pause * 2, LONGEST_PAUSE)
