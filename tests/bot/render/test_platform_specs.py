"""What the renderers produce is what the vendors' OpenAPI specs accept (../shared/specs).

The specs leave some limits out or state them differently from the docs (see the specs'
README); those are checked against the docs' numbers in test_render.py.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from hypothesis import HealthCheck, given, settings
from jsonschema import Draft7Validator, Draft202012Validator

from bot.render.discord_embeds import render_discord
from bot.render.slack_blocks import render_slack
from handlers.digest import Digest
from tests.bot.render.test_render import digests
from tests.conftest import SHARED

SPECS = SHARED / "specs"
TYPES = {"string": str, "boolean": bool}


@cache
def discord_validator() -> Draft202012Validator:
    spec = json.loads((SPECS / "discord_openapi.json").read_text())
    schema = {"$ref": "#/components/schemas/MessageCreateRequest"} | {
        "components": spec["components"]
    }
    return Draft202012Validator(schema)


@cache
def slack_method() -> tuple[dict[str, dict[str, Any]], Draft7Validator]:
    spec = json.loads((SPECS / "slack_web_openapi_v2.json").read_text())
    params = {p["name"]: p for p in spec["paths"]["/chat.postMessage"]["post"]["parameters"]}
    return params, Draft7Validator(spec["definitions"]["blocks"])


def discord_errors(payload: dict[str, Any]) -> list[str]:
    return [error.message for error in discord_validator().iter_errors(payload)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(digests())
def test_discord_payloads_match_the_message_create_schema(digest: Digest) -> None:
    for payload in render_discord(digest):
        assert discord_errors(payload) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(digests())
def test_slack_payloads_use_only_chat_post_message_parameters(digest: Digest) -> None:
    params, blocks = slack_method()
    for payload in render_slack(digest):
        assert "channel" not in payload, "the adapter adds the channel"
        for name, value in payload.items():
            assert name in params, f"{name} is not a chat.postMessage parameter"
            if name == "blocks":
                blocks.validate(value)
            else:
                assert isinstance(value, TYPES[params[name]["type"]]), name


def test_the_schema_check_can_fail() -> None:
    assert discord_errors({"embeds": [{"title": "x" * 300}]}), "title over 256 is refused"
    assert discord_errors({"allowed_mentions": {"parse": ["nobody"]}})
