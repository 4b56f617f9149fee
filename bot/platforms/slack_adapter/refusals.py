"""Every error Slack can answer `chat.postMessage` or `conversations.open` with, classed.

One table: the error code, its `Refusal` class (what the outbox does, see
`bot.roles.refusal`) and what to tell a person. It covers the errors both methods list in
Slack's Web API spec (``../shared/specs``; a test walks it) and those Slack documents
beside them. An error not in the table is transient, with the attempt cap.
"""

from __future__ import annotations

from bot.roles.refusal import CHANNEL, GONE, MESSAGE, TOKEN, TRANSIENT, Refusal

NOT_INVITED = "the bot is not in this channel: /invite @newsbot there"
NO_DMS = "the member cannot be sent direct messages by the bot"
BAD_REQUEST = "the message is malformed"

REFUSALS: dict[str, tuple[Refusal, str]] = {
    # The channel refuses the bot.
    "not_in_channel": (CHANNEL, NOT_INVITED),
    "restricted_action": (CHANNEL, "a workspace or channel setting stops the bot posting here"),
    "restricted_action_read_only_channel": (CHANNEL, "the channel is read-only"),
    "restricted_action_thread_only_channel": (CHANNEL, "the channel takes thread replies only"),
    "restricted_action_non_threadable_channel": (CHANNEL, "the channel takes no threads"),
    "ekm_access_denied": (CHANNEL, "the workspace's key management refuses access"),
    "team_access_not_granted": (CHANNEL, "the app is not granted access to this workspace"),
    "missing_scope": (
        CHANNEL,
        "the app lacks a scope it needs: reinstall it from slack/manifest.yml",
    ),
    "no_permission": (CHANNEL, "the bot has no permission to post here"),
    "method_not_supported_for_channel_type": (
        CHANNEL,
        "the bot cannot post in this kind of channel",
    ),
    "user_disabled": (CHANNEL, NO_DMS),
    "user_not_visible": (CHANNEL, NO_DMS),
    "cannot_dm_bot": (CHANNEL, NO_DMS),
    "messages_tab_disabled": (CHANNEL, NO_DMS),
    # The channel (or member) is gone.
    "channel_not_found": (GONE, "the channel does not exist (any more), or the bot cannot see it"),
    "is_archived": (GONE, "the channel is archived"),
    "user_not_found": (GONE, "the member does not exist (any more)"),
    # The message itself is refused.
    "invalid_blocks": (MESSAGE, "Slack refuses the message's blocks"),
    "invalid_blocks_format": (MESSAGE, "Slack refuses the message's blocks"),
    "msg_too_long": (MESSAGE, "the message is too long"),
    "msg_blocks_too_long": (MESSAGE, "the message's blocks are too long"),
    "no_text": (MESSAGE, "the message has no text"),
    "too_many_attachments": (MESSAGE, "the message has too many attachments"),
    "invalid_attachments": (MESSAGE, "Slack refuses the message's attachments"),
    "invalid_metadata_format": (MESSAGE, BAD_REQUEST),
    "invalid_metadata_schema": (MESSAGE, BAD_REQUEST),
    "metadata_too_large": (MESSAGE, BAD_REQUEST),
    "metadata_must_be_sent_from_app": (MESSAGE, BAD_REQUEST),
    "markdown_text_conflict": (MESSAGE, BAD_REQUEST),
    "invalid_arguments": (MESSAGE, BAD_REQUEST),
    "invalid_arg_name": (MESSAGE, BAD_REQUEST),
    "invalid_array_arg": (MESSAGE, BAD_REQUEST),
    "invalid_charset": (MESSAGE, BAD_REQUEST),
    "invalid_form_data": (MESSAGE, BAD_REQUEST),
    "invalid_post_type": (MESSAGE, BAD_REQUEST),
    "missing_post_type": (MESSAGE, BAD_REQUEST),
    "invalid_json": (MESSAGE, BAD_REQUEST),
    "json_not_object": (MESSAGE, BAD_REQUEST),
    "as_user_not_supported": (MESSAGE, BAD_REQUEST),
    "slack_connect_file_link_sharing_blocked": (MESSAGE, "the channel refuses shared links"),
    "invalid_user_combination": (MESSAGE, BAD_REQUEST),
    "not_enough_users": (MESSAGE, BAD_REQUEST),
    "too_many_users": (MESSAGE, BAD_REQUEST),
    "users_list_not_supplied": (MESSAGE, BAD_REQUEST),
    # The token: every delivery waits until it works.
    "invalid_auth": (TOKEN, "Slack refuses the bot token"),
    "not_authed": (TOKEN, "no bot token was sent"),
    "account_inactive": (TOKEN, "the bot's account is deactivated"),
    "token_revoked": (TOKEN, "the bot token was revoked"),
    "token_expired": (TOKEN, "the bot token expired"),
    "not_allowed_token_type": (TOKEN, "the token is not a bot token"),
    # Slack's side, for now.
    "rate_limited": (TRANSIENT, "rate limited"),
    "ratelimited": (TRANSIENT, "rate limited"),
    "message_limit_exceeded": (TRANSIENT, "the workspace's message limit is reached"),
    "request_timeout": (TRANSIENT, "Slack timed out"),
    "service_unavailable": (TRANSIENT, "Slack is unavailable"),
    "internal_error": (TRANSIENT, "Slack had an internal error"),
    "fatal_error": (TRANSIENT, "Slack had an internal error"),
    "team_added_to_org": (TRANSIENT, "the workspace is moving into an organisation"),
    "upgrade_required": (TRANSIENT, "Slack asks for a newer client"),
}


def classify(error: str) -> tuple[Refusal, str]:
    """The class of a Slack error code and what it means; unknown codes are transient."""
    return REFUSALS.get(error, (TRANSIENT, f"Slack answered {error or 'an error'}"))
