"""What `newsbot check` says about Slack: the token, the workspace, the bot, its scopes."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

# What the manifest asks for (slack/manifest.yml), and why each is needed.
SCOPES = {
    "commands": "/news",
    "chat:write": "posting digests and stories",
    "channels:read": "knowing which channels are public",
    "groups:read": "private channels the bot is in",
    "im:write": "direct messages",
    "users:read": "knowing workspace admins",
}


async def slack_report(api: AsyncWebClient, *, mode: str) -> tuple[bool, list[str]]:
    """(token works, lines to print), from `auth.test` and the scopes Slack reports."""
    try:
        answer = await api.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "error") if exc.response is not None else str(exc)
        return False, [f"slack: FAILED: the bot token is refused ({error})"]
    granted = {s.strip() for s in (answer.headers.get("x-oauth-scopes") or "").split(",")}
    lines = [
        f"slack: ok, {mode}, workspace {answer.get('team')} ({answer.get('team_id')}), "
        f"bot @{answer.get('user')} ({answer.get('user_id')})"
    ]
    missing = [f"{scope} ({why})" for scope, why in SCOPES.items() if scope not in granted]
    if missing:
        lines.append("slack: missing scopes, reinstall the app: " + ", ".join(missing))
    return True, lines
