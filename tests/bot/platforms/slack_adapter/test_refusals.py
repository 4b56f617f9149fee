"""Issue #21, item 1: every error Slack's spec lists for chat.postMessage and
conversations.open has a class in the one table, and the named ones have theirs."""

from __future__ import annotations

import json

import pytest

from bot.platforms.slack_adapter.refusals import REFUSALS, classify
from bot.roles.refusal import Refusal
from tests.conftest import SHARED

SPEC = SHARED / "specs" / "slack_web_openapi_v2.json"


def spec_errors(path: str) -> set[str]:
    """The error codes a method's spec lists (the enums of its error response)."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            found.update(node.get("enum") or [])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    operation = json.loads(SPEC.read_text())["paths"][path]["post"]
    walk(operation["responses"]["default"])
    return found


@pytest.mark.parametrize("method", ["/chat.postMessage", "/conversations.open"])
def test_the_table_classes_every_error_the_spec_lists(method: str) -> None:
    errors = spec_errors(method)
    assert len(errors) > 10, "the spec was read"
    assert sorted(errors - REFUSALS.keys()) == []


@pytest.mark.parametrize(
    ("error", "refusal"),
    [
        ("restricted_action", Refusal.CHANNEL),
        ("not_in_channel", Refusal.CHANNEL),
        ("invalid_blocks", Refusal.MESSAGE),
        ("msg_too_long", Refusal.MESSAGE),
        ("channel_not_found", Refusal.GONE),
        ("is_archived", Refusal.GONE),
        ("token_revoked", Refusal.TOKEN),
        ("internal_error", Refusal.TRANSIENT),
        ("a_code_slack_adds_next_year", Refusal.TRANSIENT),
    ],
)
def test_the_named_errors_have_their_class(error: str, refusal: Refusal) -> None:
    assert classify(error)[0] is refusal
    assert classify(error)[1], "and a meaning to show"
