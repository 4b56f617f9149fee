"""`newsbot dashboard`: a one-time link to the managers' page for the operator."""

from __future__ import annotations

import sys

from bot.cli.exits import EXIT_OK
from bot.settings import Settings
from bot.store.connection import open_redis
from bot.store.ui_auth import OPERATOR, UiAuth


async def dashboard_command(settings: Settings) -> int:
    """Print a sign-in link for the operator, who sees every workspace."""
    async with open_redis(settings) as handle:
        token = await UiAuth(handle.client, handle.keys).issue(OPERATOR)
    print(f"{settings.page_url}/ui/login?t={token}")
    print(
        "Open it within 15 minutes, with newsbot running; it works once and signs you in "
        "as the operator (every workspace). Links start with NEWSBOT_PUBLIC_URL.",
        file=sys.stderr,
    )
    return EXIT_OK
