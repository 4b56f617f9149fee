"""Supervised roles: a role that fails is logged with its traceback, restarted with backoff,
and shown in /healthz, instead of ending silently."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.app import RunningBot
from bot.metrics import Metrics
from bot.net.fetch import Fetcher
from bot.net.guard import allow_any
from bot.roles.supervisor import RoleState, supervise
from bot.store.connection import RedisHandle


class Flaky:
    """A role that fails on its first `failures` runs, then runs until stopped."""

    def __init__(self, stop: asyncio.Event, failures: int) -> None:
        self.stop = stop
        self.failures = failures
        self.runs = 0

    async def __call__(self) -> None:
        self.runs += 1
        if self.runs <= self.failures:
            raise RuntimeError(f"bad channel data, run {self.runs}")
        await self.stop.wait()


async def test_a_failing_role_is_logged_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    stop = asyncio.Event()
    role = Flaky(stop, failures=2)
    state = RoleState()
    caplog.set_level(logging.ERROR, logger="bot.roles.supervisor")
    task = asyncio.create_task(supervise("scheduler", role, stop, state, first_pause=0.01))
    while role.runs < 3:
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, timeout=2)
    assert state.restarts == 2 and "run 2" in state.last_error
    failures = [r for r in caplog.records if r.getMessage() == "role failed; restarting it"]
    assert len(failures) == 2 and all(r.exc_info for r in failures)
    assert failures[0].role == "scheduler"  # type: ignore[attr-defined]


async def test_a_role_that_returns_early_is_restarted() -> None:
    stop = asyncio.Event()
    runs = []

    async def quits() -> None:
        runs.append(1)
        if len(runs) == 3:
            stop.set()

    state = RoleState()
    await asyncio.wait_for(supervise("poller", quits, stop, state, first_pause=0.01), timeout=2)
    assert len(runs) == 3 and state.restarts == 2
    assert state.last_error == "ended without being stopped"


async def test_healthz_shows_a_restarting_role(handle: RedisHandle) -> None:
    stop = asyncio.Event()
    bot = RunningBot(handle=handle, metrics=Metrics(), fetcher=Fetcher(policy=allow_any))
    role = Flaky(stop, failures=1)
    bot.start("pipeline", role, stop)
    while not bot.states["pipeline"].waiting:
        await asyncio.sleep(0.01)
    report = await bot.health()
    assert report["ok"] is False and report["roles"] == {"pipeline": False}
    assert report["restarts"]["pipeline"]["restarts"] == 1
    while role.runs < 2:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.01)
    report = await bot.health()
    assert report["ok"] is True and report["roles"] == {"pipeline": True}
    assert "RuntimeError" in report["restarts"]["pipeline"]["last_error"]
    stop.set()
    await asyncio.wait_for(bot.tasks["pipeline"], timeout=2)


async def test_healthz_fails_while_an_adapter_check_fails(handle: RedisHandle) -> None:
    """A refused Slack token is such a check (SlackDeliverer.token_works)."""
    bot = RunningBot(handle=handle, metrics=Metrics(), fetcher=Fetcher(policy=allow_any))
    token = {"works": False}
    bot.checks["slack token"] = lambda: token["works"]
    report = await bot.health()
    assert report["ok"] is False and report["checks"] == {"slack token": False}
    token["works"] = True
    assert (await bot.health())["ok"] is True
