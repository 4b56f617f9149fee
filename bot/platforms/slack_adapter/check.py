"""What `newsbot check` says about Slack: the tokens, the workspace, the bot, its scopes.

Every problem is one line and a failed check (exit 1): a refused bot or app token, a
missing scope, or Slack out of reach. Never a traceback.
"""

from __future__ import annotations

import time

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.platforms.slack_adapter.installs import InstallStore
from bot.store.sealed import SealError

# What fails when Slack cannot be reached (DNS, refused, TLS, timeout), as slack_sdk raises it.
UNREACHABLE = (aiohttp.ClientError, OSError, TimeoutError, SlackClientError)

# What the manifest asks for (slack/manifest.yml), and why each is needed.
SCOPES = {
    "commands": "/news",
    "chat:write": "posting digests and stories",
    "channels:read": "knowing which channels are public",
    "groups:read": "private channels the bot is in",
    "im:write": "direct messages",
    "users:read": "knowing workspace admins",
}


async def slack_report(
    api: AsyncWebClient, *, mode: str, app_token: str | None = None
) -> tuple[bool, list[str]]:
    """(all is well, lines to print), from `auth.test`, the scopes Slack reports and, for
    Socket Mode, `apps.connections.open` with the app token."""
    try:
        answer = await api.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "error") if exc.response is not None else str(exc)
        return False, [f"slack: FAILED: the bot token is refused ({error})"]
    except UNREACHABLE as exc:
        return False, [f"slack: FAILED: cannot reach Slack at {api.base_url}: {_reason(exc)}"]
    granted = {s.strip() for s in (answer.headers.get("x-oauth-scopes") or "").split(",")}
    lines = [
        f"slack: ok, {mode}, workspace {answer.get('team')} ({answer.get('team_id')}), "
        f"bot @{answer.get('user')} ({answer.get('user_id')})"
    ]
    ok = True
    missing = [f"{scope} ({why})" for scope, why in SCOPES.items() if scope not in granted]
    if missing:
        ok = False
        lines.append("slack: FAILED: missing scopes, reinstall the app: " + ", ".join(missing))
    if app_token is not None:
        app_ok, line = await _app_token_report(api.base_url, app_token)
        ok = ok and app_ok
        lines.append(line)
    return ok, lines


async def oauth_report(store: InstallStore, api_url: str) -> tuple[bool, list[str]]:
    """OAuth mode: each installed workspace's token and scopes (`auth.test` with it), and
    the workspaces newsbot was uninstalled from, held until a reinstall."""
    try:
        workspaces = await store.all()
    except SealError as exc:
        return False, [f"slack: FAILED: {exc}"]
    lines = [f"slack: ok, OAuth mode, installed in {len(workspaces)} workspace(s)"]
    ok = True
    for workspace in workspaces:
        api = AsyncWebClient(token=workspace.bot_token, base_url=api_url, timeout=30)
        report_ok, report = await slack_report(api, mode="OAuth")
        ok = ok and report_ok
        report[0] += f", scopes {workspace.bot_scopes or 'none'}" if report_ok else ""
        lines += ["  " + line.removeprefix("slack: ") for line in report]
    for team, when in sorted((await store.uninstalled()).items()):
        days = (time.time() - when) / 86400
        lines.append(
            f"  {team}: uninstalled {days:.0f} days ago; its channels are held until a reinstall"
        )
    return ok, lines


async def _app_token_report(base_url: str, app_token: str) -> tuple[bool, str]:
    """Whether Slack opens a Socket Mode connection for the app token (the URL it gives
    is not used: this only asks)."""
    client = AsyncWebClient(token=app_token, base_url=base_url, timeout=30)
    try:
        await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        error = exc.response.get("error", "error") if exc.response is not None else str(exc)
        return False, (
            f"slack: FAILED: the app token (SLACK_APP_TOKEN) is refused ({error}); it needs "
            "the connections:write scope"
        )
    except UNREACHABLE as exc:
        return False, f"slack: FAILED: cannot reach Slack at {base_url}: {_reason(exc)}"
    return True, "slack: ok, the app token opens Socket Mode connections"


def _reason(exc: BaseException) -> str:
    """An error in a few words, without its stack."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
