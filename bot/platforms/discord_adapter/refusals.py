"""Every answer Discord can refuse a message with, classed: JSON codes, then HTTP statuses.

One table each: the code (or status), its `Refusal` class (what the outbox does, see
`bot.roles.refusal`) and what it means. A JSON code wins over the status it came with; a
status not in the table is transient, with the attempt cap.
"""

from __future__ import annotations

from bot.roles.refusal import CHANNEL, GONE, MESSAGE, TOKEN, TRANSIENT, Refusal

MISSING_ACCESS = 50001
MISSING_PERMISSIONS = 50013
UNKNOWN_CHANNEL = 10003
DMS_CLOSED = 50007
ARCHIVED_THREAD = 50083
INVALID_FORM_BODY = 50035

CODES: dict[int, tuple[Refusal, str]] = {
    # The channel refuses the bot.
    MISSING_ACCESS: (CHANNEL, "Missing Access"),
    MISSING_PERMISSIONS: (CHANNEL, "Missing Permissions"),
    ARCHIVED_THREAD: (CHANNEL, "the thread is archived"),
    DMS_CLOSED: (CHANNEL, "the member does not accept DMs from the bot"),
    160005: (CHANNEL, "the thread is locked"),
    20009: (CHANNEL, "explicit content cannot be sent here"),
    40004: (CHANNEL, "sending messages is temporarily disabled"),
    20022: (CHANNEL, "the channel's announcement rate limit is reached"),
    # The channel is gone.
    UNKNOWN_CHANNEL: (GONE, "Unknown Channel: the channel is gone, or the bot was removed"),
    10004: (GONE, "Unknown Guild: the bot was removed from the server"),
    10013: (GONE, "Unknown User: the member is gone"),
    50008: (GONE, "the bot cannot send messages in a non-text channel"),
    # The message itself is refused.
    INVALID_FORM_BODY: (MESSAGE, "Invalid Form Body"),
    50006: (MESSAGE, "the message is empty"),
    40005: (MESSAGE, "the message is too large"),
    50109: (MESSAGE, "the request body is not valid JSON"),
    240000: (MESSAGE, "a link in the message is blocked"),
    200000: (MESSAGE, "AutoMod blocks the message"),
    200001: (MESSAGE, "AutoMod blocks the message's title"),
    # Discord's side, for now.
    20028: (TRANSIENT, "the channel's write rate limit is reached"),
    20016: (TRANSIENT, "the channel's slowmode rate limit is reached"),
    130000: (TRANSIENT, "the API is overloaded"),
    0: (TRANSIENT, "a general error"),
}

STATUSES: dict[int, tuple[Refusal, str]] = {
    400: (MESSAGE, "Bad Request"),
    401: (TOKEN, "Discord refuses the bot token"),
    403: (CHANNEL, "Forbidden"),
    404: (GONE, "Not Found"),
    413: (MESSAGE, "the message is too large"),
    429: (TRANSIENT, "rate limited"),
    500: (TRANSIENT, "Discord had an internal error"),
    502: (TRANSIENT, "Discord's gateway is unavailable"),
    503: (TRANSIENT, "Discord is unavailable"),
    504: (TRANSIENT, "Discord timed out"),
}


def classify(status: int, code: int) -> tuple[Refusal, str]:
    """The class of a Discord refusal; a known JSON code wins over its HTTP status."""
    if status == 401:
        return STATUSES[401]
    if code in CODES and (code or status not in STATUSES):
        return CODES[code]
    return STATUSES.get(status, (TRANSIENT, f"Discord answered {status}"))
