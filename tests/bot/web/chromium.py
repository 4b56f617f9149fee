"""Debian's Chromium, driven by Playwright, for the managers' page's browser tests.

Playwright's own browser download is not reachable from these machines, so the tests
launch the system's Chromium by path (``NEWSBOT_TEST_CHROMIUM``, default
``/usr/bin/chromium``). `.ci/run` installs it when it is missing. A test that finds no
Chromium fails: it never skips.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright

CHROMIUM = Path(os.environ.get("NEWSBOT_TEST_CHROMIUM", "/usr/bin/chromium"))
# Headless, as root, and quiet: this machine's network is closed, so Chromium's own
# background connections (updates, sync, Google's hosts) are turned off.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERIOUS = {"serious", "critical"}


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: apt-get install chromium "
            "(or set NEWSBOT_TEST_CHROMIUM to its path)"
        )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


def console_problems(page: Page) -> list[str]:
    """What the page logs as an error, its uncaught exceptions and the addresses it was
    refused, as they come."""
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "response",
        lambda response: (
            response.status >= 400 and problems.append(f"{response.status} {response.url}")
        ),
    )
    return problems


async def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now, one line each.
    The page's CSP blocks injected scripts, so its context must bypass CSP."""
    results = await Axe().run(page)
    return [
        f"{page.url}: {violation['id']} ({violation['impact']}): {violation['help']}"
        for violation in results.response["violations"]
        if violation["impact"] in SERIOUS
    ]
